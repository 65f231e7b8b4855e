import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { EventEnvelope, LogLineView, RunTraceView, SessionView } from '@runyard/contracts';
import { expectEventually, uniqueName } from '@runyard/testing';
import { bootDistributedOnTestServers, type BootedDistributed } from '@runyard/standalone/testing';
import { callApi, CliHarness, parseJson, type CliResult } from './cli-harness.fixture.js';

// The real binary (see cli-harness.fixture.ts) against distributed mode: the gateway, two replicas
// each of sessions, runs and transcripts, and a worker, each on its own NATS connection, on the real
// PostgreSQL, NATS JetStream and Redis. cli.spec.ts covers the commands in depth on standalone mode;
// this proves the same binary works end to end across the services.

interface EventLine {
  id: string;
  event: string;
  data: EventEnvelope;
}

let runyard: BootedDistributed | undefined;
let harness: CliHarness | undefined;
let adminKey: string;
let login: CliResult;

/** The CLI as a logged-in user calls it: URL and key from the config file written by `login`. */
function cli(args: string[]): Promise<CliResult> {
  return harness!.run(args);
}

async function newSession(): Promise<string> {
  return parseJson<SessionView>(await cli(['sessions', 'new', '--title', `s-${randomUUID()}`, '--json'])).id;
}

beforeAll(async () => {
  harness = CliHarness.open('runyard-cli-distributed-');
  runyard = await bootDistributedOnTestServers({ namespace: uniqueName('cli'), worker: { concurrency: 2 } });
  const tenant = await callApi<{ api_key: { key: string } }>(runyard.url, 'POST', '/v1/tenants', runyard.systemKey, { name: 'CLI distributed' });
  adminKey = tenant.api_key.key;
  // Every test below runs the CLI as a logged-in user would.
  login = await harness.run(['login', '--url', runyard.url, '--key', '-'], {}, `${adminKey}\n`);
}, 120_000);

afterAll(async () => {
  // Stops the worker and every service, then deletes the namespace's streams and the database.
  await runyard?.close();
  harness?.remove();
});

describe('runyard against distributed mode', () => {
  it('logs in, and later commands use the stored URL and key', async () => {
    expect(login).toMatchObject({ code: 0, stdout: expect.stringMatching(/Logged in to .* as .*admin, tenant CLI distributed/) });
    expect(JSON.parse(readFileSync(harness!.configFile, 'utf8'))).toEqual({ url: runyard!.url, key: adminKey });
    expect(parseJson(await cli(['sessions', 'list', '--json']))).toMatchObject({ data: expect.any(Array) });
  });

  it('sends a turn and prints the echo answer; the run’s log and trace are there after it', async () => {
    const sessionId = await newSession();
    const text = 'hello, distributed runyard';
    const sent = await cli(['sessions', 'send', sessionId, text]);
    expect(sent).toMatchObject({ code: 0, stdout: `${text}\n` });
    expect(sent.stderr).toMatch(/status running → completed/);
    const runId = /message #1 sent; run (\S+)/.exec(sent.stderr)![1];

    // The worker sends its log lines and spans in batches: wait until they are stored.
    const agentLines = await expectEventually(async () => {
      const logs = await cli(['runs', 'logs', runId, '--json']);
      expect(logs.code).toBe(0);
      const lines = logs.stdout.trim().split('\n').filter(Boolean).map((line) => JSON.parse(line) as LogLineView);
      const agent = lines.filter((line) => line.stream === 'agent');
      expect(agent).toHaveLength(1);
      return agent;
    });
    expect(agentLines[0]).toMatchObject({ run_id: runId, text: `echo: replying with ${text.length} characters` });
    const table = await cli(['runs', 'logs', runId, '--stream', 'agent']);
    expect(table).toMatchObject({ code: 0, stdout: expect.stringMatching(new RegExp(`^ *${agentLines[0].seq} \\S+ agent\\s+info\\s+echo: replying with ${text.length} characters\\n$`)) });

    const trace = await expectEventually(async () => {
      const body = parseJson<RunTraceView>(await cli(['runs', 'trace', runId, '--json']));
      // The root: the run's execution on the worker (its parent is the gateway's span, not recorded).
      expect(body.spans).toEqual([
        expect.objectContaining({
          name: 'run',
          kind: 'internal',
          status: 'ok',
          end_time: expect.any(String),
          children: expect.arrayContaining([expect.objectContaining({ name: 'run completed' })]),
        }),
      ]);
      return body;
    });
    expect(trace).toMatchObject({ run_id: runId, trace_id: expect.stringMatching(/^[0-9a-f]{32}$/) });
    const printed = await cli(['runs', 'trace', runId]);
    expect(printed.code).toBe(0);
    expect(printed.stdout.split('\n')[0]).toBe(`trace ${trace.trace_id!}  ${trace.span_count} spans`);
  });

  it('follows a script run through an approval given by a second CLI process', async () => {
    const sessionId = await newSession();
    const scenario = { steps: [{ step: 'plan', title: 'Plan' }, { approval: 'ship', prompt: 'Ship it?' }, { message: 'Deployed.' }] };
    const send = harness!.start(['sessions', 'send', sessionId, JSON.stringify(scenario), '--executor', 'script']);
    send.child.stdin!.end();
    const [, runId, waitId] = await expectEventually(() => {
      const match = /runyard runs approve (\S+) (\S+)/.exec(send.stderr());
      expect(match).not.toBeNull();
      return match!;
    });
    expect(send.stderr()).toMatch(/waiting for approval: Ship it\?/);
    const approved = await cli(['runs', 'approve', runId, waitId, '--reason', 'go ahead']);
    expect(approved).toMatchObject({ code: 0, stdout: expect.stringMatching(/approval ship answered: Ship it\? → approved: go ahead/) });
    const result = await send.exited;
    expect(result).toMatchObject({ code: 0, stdout: 'Deployed.\n' });
    expect(result.stderr).toMatch(/approval "ship" answered \(approved: go ahead\)/);
  });

  it('tails a session’s events as they happen', async () => {
    const sessionId = await newSession();
    const tail = harness!.start(['events', 'tail', '-s', sessionId, '--json']);
    tail.child.stdin!.end();
    try {
      // The stream is open once the gateway holds it: the first event sent after that reaches it.
      await expectEventually(async () => {
        await callApi(runyard!.url, 'POST', `/v1/sessions/${sessionId}/messages`, adminKey, { role: 'system', content: 'ping' });
        expect(tail.stdout()).toMatch(/message\.appended/);
      });
      expect((await cli(['sessions', 'send', sessionId, 'tail me', '--quiet'])).code).toBe(0);
      await expectEventually(() => expect(tail.stdout()).toMatch(/"event":"run\.status_changed".*"to":"completed"/));
    } finally {
      tail.child.kill('SIGINT');
    }
    const result = await tail.exited;
    expect(result.code).toBe(130);
    const lines = result.stdout.trim().split('\n').map((line) => JSON.parse(line) as EventLine);
    expect(lines.every((line) => line.data.session_id === sessionId && typeof line.id === 'string')).toBe(true);
    expect(new Set(lines.map((line) => line.id)).size).toBe(lines.length);
    expect(lines.map((line) => line.event)).toEqual(expect.arrayContaining(['message.appended', 'run.created', 'run.status_changed']));
  });

  it('exits 5 with the API’s problem for an id that does not exist', async () => {
    const missing = await cli(['sessions', 'show', randomUUID()]);
    expect(missing.code).toBe(5);
    expect(missing.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^runyard: .*\(not_found, HTTP 404, request \S+\)$/)]);
    const noRun = await cli(['runs', 'logs', randomUUID()]);
    expect(noRun).toMatchObject({ code: 5, stderr: expect.stringMatching(/not_found, HTTP 404/) });
  });
});
