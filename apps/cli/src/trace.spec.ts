import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { RunTraceView, RunView, WaitView } from '@runyard/contracts';
import { startStandalone, type RunningStandalone } from '@runyard/standalone';
import { expectEventually } from '@runyard/testing';
import { callApi, CliHarness, type CliResult as Result } from './cli-harness.fixture.js';

// `runyard runs trace`: the real binary (see cli-harness.fixture.ts) against standalone mode with its
// embedded worker, in this process.
let runyard: RunningStandalone;
let adminKey: string;
let otherKey: string;
let harness: CliHarness;

/** The CLI with a clean environment (no RUNYARD_* of the caller, HOME in a temp dir), URL and key as flags. */
function runAs(key: string, args: string[]): Promise<Result> {
  return harness.run([...args, '--url', runyard.url, '--key', key]);
}

function api<T>(method: string, path: string, key: string, body?: unknown): Promise<T> {
  return callApi<T>(runyard.url, method, path, key, body);
}

function statusOf(runId: string, status: RunView['status']): Promise<RunView> {
  return expectEventually(async () => {
    const run = await api<RunView>('GET', `/v1/runs/${runId}`, adminKey);
    expect(run.status).toBe(status);
    return run;
  });
}

beforeAll(async () => {
  harness = CliHarness.open('runyard-cli-trace-');
  runyard = await startStandalone({ port: 0, host: '127.0.0.1', logLevel: 'silent', worker: { concurrency: 2 } });
  adminKey = (await api<{ api_key: { key: string } }>('POST', '/v1/tenants', runyard.generatedSystemKey!, { name: 'CLI trace' })).api_key.key;
  otherKey = (await api<{ api_key: { key: string } }>('POST', '/v1/tenants', runyard.generatedSystemKey!, { name: 'CLI trace, elsewhere' })).api_key.key;
}, 60_000);

afterAll(async () => {
  await runyard?.close();
  harness?.remove();
});

describe('runyard runs trace', () => {
  it('prints a script run’s spans as an indented tree with durations, and the API’s tree with --json', async () => {
    const scenario = { steps: [{ step: 'plan', title: 'Plan' }, { approval: 'ship', prompt: 'Ship it?' }, { fail: 'tests failed' }] };
    const run = await api<RunView>('POST', '/v1/runs', adminKey, { input: JSON.stringify(scenario), route: { executor: 'script' } });
    await statusOf(run.id, 'waiting_for_approval');
    const waits = await api<{ data: WaitView[] }>('GET', `/v1/runs/${run.id}/waits`, adminKey);
    await api('POST', `/v1/runs/${run.id}/waits/${waits.data[0].id}/approve`, adminKey, {});
    await statusOf(run.id, 'failed');
    // Spans are sent in batches: wait until the tree is whole.
    const trace = await expectEventually(async () => {
      const body = await api<RunTraceView>('GET', `/v1/runs/${run.id}/trace`, adminKey);
      expect(body.span_count).toBe(6);
      return body;
    });

    const printed = await runAs(adminKey, ['runs', 'trace', run.id]);
    expect(printed).toMatchObject({ code: 0, stderr: '' });
    const duration = String.raw`(\d+ ms|\d+\.\d\d s|\d+m \d\ds)`;
    const lines = printed.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(`trace ${trace.trace_id!}  6 spans`);
    // Not a terminal: no colour.
    expect(printed.stdout).not.toContain('\x1b[');
    const expected = [
      String.raw`^  run  internal  ok  ${duration}$`,
      String.raw`^    step plan  state_change  ok  ${duration}$`,
      String.raw`^    step plan  state_change  ok  ${duration}$`,
      String.raw`^    approval ship  approval  ok  ${duration}$`,
      String.raw`^  run  internal  error: tests failed  ${duration}$`,
      String.raw`^    run failed  state_change  ok  ${duration}$`,
    ];
    expect(lines.slice(1)).toHaveLength(expected.length);
    lines.slice(1).forEach((line, index) => expect(line).toMatch(new RegExp(expected[index])));

    const json = await runAs(adminKey, ['runs', 'trace', run.id, '--json']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual(trace);
  });

  it('fails with the API error for a run the caller cannot see, and with a usage error without an id', async () => {
    const run = await api<RunView>('POST', '/v1/runs', adminKey, { route: { executor: 'nobody' } });
    const foreign = await runAs(otherKey, ['runs', 'trace', run.id]);
    expect(foreign.code).toBe(5);
    expect(foreign.stderr).toMatch(/not_found, HTTP 404/);
    expect((await runAs(adminKey, ['runs', 'trace'])).code).toBe(2);
    const help = await runAs(adminKey, ['runs', 'trace', '--help']);
    expect(help.stdout).toMatch(/Print a run's trace/);
  });
});
