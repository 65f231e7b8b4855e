import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { v7 as uuidv7 } from 'uuid';
import { expectEventually } from '@runyard/testing';
import { startStandalone, type RunningStandalone } from '../standalone.js';
import { ApiClient, type ApiResponse } from './http-client.js';

type Json = Record<string, unknown>;
interface Span {
  span_id: string;
  parent_span_id: string | null;
  name: string;
  kind: string;
  status: string;
  status_message: string | null;
  start_time: string;
  end_time: string | null;
  duration_ms: number | null;
  attributes: Json;
  children: Span[];
}
interface Trace {
  run_id: string;
  trace_id: string | null;
  span_count: number;
  spans: Span[];
  truncated: boolean;
  limit_reached: boolean;
}

/** The span of the client that creates the traced run. */
const CLIENT_SPAN = '00f067aa0ba902b7';

// `GET /v1/runs/{id}/trace` in standalone mode, with the embedded worker executing a `script` run:
// the tree its spans make, in the trace of the request that created the run; 404 for runs the caller
// cannot see.
let runyard: RunningStandalone;
let anonymous: ApiClient;
let admin: ApiClient;
let other: ApiClient;
let member: ApiClient;

async function createTenant(name: string): Promise<ApiClient> {
  const tenant = await new ApiClient(runyard.url, runyard.generatedSystemKey).post<{ api_key: Json }>('/v1/tenants', { name });
  expect(tenant.status).toBe(201);
  return anonymous.as(tenant.body.api_key.key as string);
}

function expectProblem(response: ApiResponse, status: number, code: string): void {
  expect({ status: response.status, code: response.body.code }).toEqual({ status, code });
  expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
}

function statusOf(client: ApiClient, runId: string, status: string): Promise<Json> {
  return expectEventually(async () => {
    const run = await client.get(`/v1/runs/${runId}`);
    expect(run.body.status).toBe(status);
    return run.body;
  });
}

function shape(spans: Span[]): unknown[] {
  return spans.map((span) => ({ name: span.name, kind: span.kind, status: span.status, children: shape(span.children) }));
}

function all(spans: Span[]): Span[] {
  return spans.flatMap((span) => [span, ...all(span.children)]);
}

beforeAll(async () => {
  runyard = await startStandalone({ port: 0, host: '127.0.0.1', logLevel: 'silent', worker: { concurrency: 2 } });
  anonymous = new ApiClient(runyard.url);
  admin = await createTenant('Traced');
  other = await createTenant('Elsewhere');
  const principal = await admin.post<Json>('/v1/principals', { name: 'tess', kind: 'user', role: 'member' });
  const key = await admin.post<Json>('/v1/api-keys', { name: 'tess key', principal_id: principal.body.id });
  member = anonymous.as(key.body.key as string);
}, 60_000);

afterAll(() => runyard?.close());

describe('GET /v1/runs/{id}/trace', () => {
  it('returns the tree of a script run — steps, an approval, a failure — in the trace of the request that created it', async () => {
    const traceId = uuidv7().replaceAll('-', '').replace(/^./, 'a');
    const scenario = { steps: [{ step: 'plan', title: 'Plan' }, { approval: 'ship', prompt: 'Ship it?' }, { fail: 'tests failed' }] };
    const created = await admin.request<Json>('POST', '/v1/runs', {
      body: { input: JSON.stringify(scenario), route: { executor: 'script' } },
      headers: { traceparent: `00-${traceId}-${CLIENT_SPAN}-01` },
    });
    expect(created.status).toBe(201);
    const runId = created.body.id as string;
    await statusOf(admin, runId, 'waiting_for_approval');
    const waits = await admin.get<{ data: Json[] }>(`/v1/runs/${runId}/waits`);
    expect((await admin.post(`/v1/runs/${runId}/waits/${waits.body.data[0].id as string}/approve`, { reason: 'looks good' })).status).toBe(200);
    await statusOf(admin, runId, 'failed');

    const trace = await expectEventually(async () => {
      const response = await admin.get<Trace>(`/v1/runs/${runId}/trace`);
      expect(response.status).toBe(200);
      expect(shape(response.body.spans)).toEqual([
        {
          name: 'run',
          kind: 'internal',
          status: 'ok',
          children: [
            { name: 'step plan', kind: 'state_change', status: 'ok', children: [] },
            { name: 'step plan', kind: 'state_change', status: 'ok', children: [] },
            { name: 'approval ship', kind: 'approval', status: 'ok', children: [] },
          ],
        },
        { name: 'run', kind: 'internal', status: 'error', children: [{ name: 'run failed', kind: 'state_change', status: 'ok', children: [] }] },
      ]);
      return response.body;
    });
    expect(trace).toMatchObject({ run_id: runId, trace_id: traceId, span_count: 6, truncated: false, limit_reached: false });
    const [first, second] = trace.spans;
    // One trace id and one parent chain from the client's request to the execution: each pass's root
    // hangs under the span the runs service handled the creating request in (not recorded here, so
    // still a root of the tree) — neither the client's span nor the gateway's, which are its ancestors.
    const gatewaySpan = /^00-[0-9a-f]{32}-([0-9a-f]{16})-[0-9a-f]{2}$/.exec(created.headers.get('traceparent') ?? '')?.[1];
    expect(created.body).toMatchObject({ trace_id: traceId, trace_parent_span_id: expect.stringMatching(/^[0-9a-f]{16}$/) });
    expect([first.parent_span_id, second.parent_span_id]).toEqual([created.body.trace_parent_span_id, created.body.trace_parent_span_id]);
    expect([CLIENT_SPAN, gatewaySpan]).not.toContain(created.body.trace_parent_span_id);
    expect(first.attributes).toMatchObject({ outcome: 'suspended', 'run.executor': 'script' });
    expect(second).toMatchObject({ status_message: 'tests failed', attributes: expect.objectContaining({ outcome: 'failed' }) });
    expect(first.children[2].attributes).toMatchObject({ 'wait.key': 'ship', suspended: true, 'answer.decision': 'approved', 'answer.reason': 'looks good' });
    for (const span of all(trace.spans)) {
      expect(span.end_time).not.toBeNull();
      expect(span.duration_ms).toBe(Date.parse(span.end_time!) - Date.parse(span.start_time));
      expect(span.duration_ms).toBeGreaterThanOrEqual(0);
    }
    expect(second.start_time >= first.start_time).toBe(true);
  });

  it('answers 404 for a run the caller cannot see, and an empty tree for a visible run without spans yet', async () => {
    // No worker serves this executor: the run stays pending, without spans.
    const created = await admin.post<Json>('/v1/runs', { route: { executor: 'nobody' } });
    const runId = created.body.id as string;
    expect((await admin.get<Trace>(`/v1/runs/${runId}/trace`)).body).toEqual({ run_id: runId, trace_id: null, span_count: 0, spans: [], truncated: false, limit_reached: false });

    expectProblem(await other.get(`/v1/runs/${runId}/trace`), 404, 'not_found');
    expectProblem(await member.get(`/v1/runs/${runId}/trace`), 404, 'not_found');
    expectProblem(await admin.get(`/v1/runs/${uuidv7()}/trace`), 404, 'not_found');
    expectProblem(await admin.get('/v1/runs/not-a-uuid/trace'), 404, 'not_found');
    expect((await anonymous.get(`/v1/runs/${runId}/trace`)).status).toBe(401);

    // A member's own run is theirs to read.
    const own = await member.post<Json>('/v1/runs', { input: JSON.stringify({ steps: [] }), route: { executor: 'script' } });
    await statusOf(member, own.body.id as string, 'completed');
    await expectEventually(async () => {
      const trace = await member.get<Trace>(`/v1/runs/${own.body.id as string}/trace`);
      expect(shape(trace.body.spans)).toEqual([{ name: 'run', kind: 'internal', status: 'ok', children: [{ name: 'run completed', kind: 'state_change', status: 'ok', children: [] }] }]);
    });
  });
});
