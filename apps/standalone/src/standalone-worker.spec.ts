import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { expectEventually } from '@runyard/testing';
import { ApiClient } from './e2e/http-client.js';
import { startStandalone, type RunningStandalone } from './standalone.js';

type Json = Record<string, unknown>;

// Standalone mode with its embedded worker: a run created over HTTP is executed in the same process,
// with nothing else running, exactly as a user trying Runyard sees it.
let runyard: RunningStandalone;
let admin: ApiClient;

beforeAll(async () => {
  runyard = await startStandalone({ port: 0, host: '127.0.0.1', logLevel: 'silent', worker: { concurrency: 2 } });
  const system = new ApiClient(runyard.url, runyard.generatedSystemKey);
  const tenant = await system.post<{ api_key: Json }>('/v1/tenants', { name: 'Embedded' });
  expect(tenant.status).toBe(201);
  admin = new ApiClient(runyard.url, tenant.body.api_key.key as string);
}, 60_000);

afterAll(() => runyard?.close());

async function finished(runId: string, status: string): Promise<Json> {
  return expectEventually(async () => {
    const run = await admin.get(`/v1/runs/${runId}`);
    expect(run.body).toMatchObject({ status });
    return run.body;
  });
}

describe('the embedded worker', () => {
  it('echoes a chat run back into its session', async () => {
    const session = await admin.post<Json>('/v1/sessions', { title: 'hello' });
    const run = await admin.post<Json>('/v1/runs', { session_id: session.body.id, input: 'hello, runyard' });
    expect(run.status).toBe(201);
    expect(await finished(run.body.id as string, 'completed')).toMatchObject({ output: { text: 'hello, runyard' }, worker_id: expect.stringMatching(/^standalone-/) });
    const steps = await admin.get<{ data: Json[] }>(`/v1/runs/${run.body.id as string}/steps`);
    expect(steps.body.data).toEqual([expect.objectContaining({ key: 'reply', status: 'completed' })]);
    await expectEventually(async () => {
      const messages = await admin.get<{ data: Json[] }>(`/v1/sessions/${session.body.id as string}/messages`);
      expect(messages.body.data.filter((message) => message.role === 'assistant').map((message) => message.content)).toEqual(['hello, runyard']);
    });
  });

  it('runs a script that waits for an approval given over HTTP', async () => {
    const scenario = { steps: [{ step: 'plan', title: 'Plan' }, { approval: 'ship', prompt: 'Ship it?' }, { step: 'ship', title: 'Ship' }], output: { shipped: true } };
    const run = await admin.post<Json>('/v1/runs', { input: JSON.stringify(scenario), route: { executor: 'script' } });
    const runId = run.body.id as string;
    await finished(runId, 'waiting_for_approval');
    const waits = await admin.get<{ data: Json[] }>(`/v1/runs/${runId}/waits`);
    const approved = await admin.post(`/v1/runs/${runId}/waits/${waits.body.data[0].id as string}/approve`, { reason: 'yes' });
    expect(approved.status).toBe(200);
    expect(await finished(runId, 'completed')).toMatchObject({ output: { shipped: true, answers: { ship: { decision: 'approved', reason: 'yes' } } } });
    const steps = await admin.get<{ data: Json[] }>(`/v1/runs/${runId}/steps`);
    expect(steps.body.data.map((step) => step.key)).toEqual(['plan', 'ship']);
  });
});
