import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { AnsweredWait, ChatMessageView, EventEnvelope, LogLineView, Page, PlanStepView, RunView, SessionView, WaitView } from '@runyard/contracts';
import { startStandalone, type RunningStandalone } from '@runyard/standalone';
import { expectEventually, freePort } from '@runyard/testing';
import { callApi, CliHarness, parseJson as parse, type CliResult as Result, type RunningCli as Running } from './cli-harness.fixture.js';
import { useColour } from './output.js';

type Json = Record<string, unknown>;
interface SendResult {
  message: ChatMessageView;
  run: RunView;
  answer: ChatMessageView[];
  wait: WaitView | null;
}
interface EventLine {
  id: string;
  event: string;
  data: EventEnvelope;
}

// The real binary (see cli-harness.fixture.ts) against a real server: standalone mode with its
// embedded worker, in this process. cli.integration-spec.ts runs the same against distributed mode.
let runyard: RunningStandalone;
let adminKey: string;
let harness: CliHarness;
let configFile: string;

/** Starts the CLI with a clean environment: no RUNYARD_* from the caller, HOME and config in a temp dir. */
function start(args: string[], env: Record<string, string> = {}): Running {
  return harness.start(args, env);
}

function cli(args: string[], env?: Record<string, string>, stdin?: string): Promise<Result> {
  return harness.run(args, env, stdin);
}

/** The CLI as a logged-out script would call it: URL and key as flags. */
function runAs(key: string, args: string[]): Promise<Result> {
  return cli([...args, '--url', runyard.url, '--key', key]);
}

function api<T = Json>(method: string, path: string, key: string, body?: unknown): Promise<T> {
  return callApi<T>(runyard.url, method, path, key, body);
}

async function newSession(): Promise<string> {
  return parse<SessionView>(await runAs(adminKey, ['sessions', 'new', '--title', `s-${randomUUID()}`, '--json'])).id;
}

beforeAll(async () => {
  harness = CliHarness.open('runyard-cli-', 'runyard/config.json');
  configFile = harness.configFile;
  // A run's log closes shortly after the run ends, so `runs logs -f` ends within the test.
  runyard = await startStandalone({ port: 0, host: '127.0.0.1', logLevel: 'silent', worker: { concurrency: 2 }, logs: { closeGraceMs: 200, closeSweepIntervalMs: 100 } });
  const tenant = await api<{ api_key: { key: string } }>('POST', '/v1/tenants', runyard.generatedSystemKey!, { name: 'CLI' });
  adminKey = tenant.api_key.key;
}, 60_000);

afterAll(async () => {
  await runyard?.close();
  harness?.remove();
});

describe('login and the config file', () => {
  it('refuses a wrong key with its code and stores nothing', async () => {
    const result = await cli(['login', '--url', runyard.url, '--key', 'ryk_wrong_key']);
    expect(result.code).toBe(5);
    expect(result.stderr).toMatch(/unauthenticated, HTTP 401/);
    expect(existsSync(configFile)).toBe(false);
  });

  it('stores the URL and key readable by the owner only, and later commands use them', async () => {
    const login = await cli(['login', '--url', `${runyard.url}/`, '--key', '-'], {}, `${adminKey}\n`);
    expect(login).toMatchObject({ code: 0, stdout: expect.stringMatching(/Logged in to .* as .*admin, tenant CLI/) });
    expect(statSync(configFile).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(configFile, 'utf8'))).toEqual({ url: runyard.url, key: adminKey });

    expect(parse(await cli(['sessions', 'list', '--json']))).toMatchObject({ data: expect.any(Array) });
    // The environment overrides the file, and flags override both.
    const wrongEnv = await cli(['sessions', 'list'], { RUNYARD_KEY: 'ryk_wrong_key' });
    expect(wrongEnv.code).toBe(5);
    expect(wrongEnv.stderr).toMatch(/unauthenticated/);
    expect((await cli(['sessions', 'list', '--key', adminKey], { RUNYARD_KEY: 'ryk_wrong_key' })).code).toBe(0);
  });
});

describe('sessions', () => {
  it('creates, lists and shows sessions, as tables and as JSON', async () => {
    const title = `Release ${randomUUID().slice(0, 8)}`;
    const session = parse<SessionView>(await runAs(adminKey, ['sessions', 'new', '--title', title, '--model', 'claude-sonnet-4', '--json']));
    expect(session).toMatchObject({ title, status: 'active', route_policy: { model: 'claude-sonnet-4' } });

    const table = await runAs(adminKey, ['sessions', 'list', '--limit', '200']);
    expect(table.code).toBe(0);
    expect(table.stdout.split('\n')[0]).toMatch(/^ID\s+TITLE\s+STATUS\s+MESSAGES\s+CREATED$/);
    expect(table.stdout).toMatch(new RegExp(`${session.id}\\s+${title}\\s+active\\s+0`));
    // Not a terminal: no colour codes.
    expect(table.stdout).not.toMatch(/\x1b\[/);

    expect(parse(await runAs(adminKey, ['sessions', 'show', session.id, '--json']))).toEqual({ session, messages: [] });
    const shown = await runAs(adminKey, ['sessions', 'show', session.id]);
    expect(shown.stdout).toMatch(new RegExp(`route\\s+model=claude-sonnet-4`));

    const archived = parse<SessionView>(await runAs(adminKey, ['sessions', 'archive', session.id, '--json']));
    expect(archived).toMatchObject({ id: session.id, status: 'archived' });
    const refused = await runAs(adminKey, ['sessions', 'send', session.id, 'hello']);
    expect(refused.code).toBe(5);
    expect(refused.stderr).toMatch(/session_archived, HTTP 409/);
  });

  it('sends a turn, shows the run live and prints the echo answer (exit 0)', async () => {
    const sessionId = await newSession();
    const result = await runAs(adminKey, ['sessions', 'send', sessionId, 'hello, runyard']);
    expect(result).toMatchObject({ code: 0, stdout: 'hello, runyard\n' });
    expect(result.stderr).toMatch(/message #1 sent; run \S+ pending/);
    expect(result.stderr).toMatch(/status pending → running/);
    expect(result.stderr).toMatch(/step 1 Reply: completed/);
    expect(result.stderr).toMatch(/status running → completed/);

    const json = parse<SendResult>(await runAs(adminKey, ['sessions', 'send', sessionId, 'second', '--json', '--quiet']));
    expect(json).toMatchObject({ message: { seq: 3, role: 'user' }, run: { status: 'completed' }, answer: [{ role: 'assistant', content: 'second', seq: 4 }] });
    const shown = parse<{ messages: ChatMessageView[] }>(await runAs(adminKey, ['sessions', 'show', sessionId, '--json']));
    expect(shown.messages.map((message) => `${message.role}:${message.content}`)).toEqual([
      'user:hello, runyard',
      'assistant:hello, runyard',
      'user:second',
      'assistant:second',
    ]);
  });

  it('exits 1 with the failure when the run fails', async () => {
    const sessionId = await newSession();
    const result = await runAs(adminKey, ['sessions', 'send', sessionId, JSON.stringify({ steps: [{ step: 'plan' }, { fail: 'boom' }] }), '--executor', 'script']);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/step 1 plan: completed/);
    expect(result.stderr).toMatch(/run \S+ failed \(error\): .*boom/);
  });

  it('follows a run through an approval given meanwhile, then prints its answer', async () => {
    const sessionId = await newSession();
    const scenario = { steps: [{ step: 'plan', title: 'Plan' }, { approval: 'ship', prompt: 'Ship it?' }, { message: 'Deployed.' }] };
    const send = start(['sessions', 'send', sessionId, JSON.stringify(scenario), '--executor', 'script', '--url', runyard.url, '--key', adminKey]);
    send.child.stdin!.end();
    const [, runId, waitId] = await expectEventually(() => {
      const match = /runyard runs approve (\S+) (\S+)/.exec(send.stderr());
      expect(match).not.toBeNull();
      return match!;
    });
    expect(send.stderr()).toMatch(/waiting for approval: Ship it\?/);
    const approved = await runAs(adminKey, ['runs', 'approve', runId, waitId, '--reason', 'go ahead']);
    expect(approved).toMatchObject({ code: 0, stdout: expect.stringMatching(/approval ship answered: Ship it\? → approved: go ahead/) });
    const result = await send.exited;
    expect(result).toMatchObject({ code: 0, stdout: 'Deployed.\n' });
    expect(result.stderr).toMatch(/approval "ship" answered \(approved: go ahead\)/);
  });

  it('exits 4 with --no-wait when the run waits; runs show, approve and steps take it from there', async () => {
    const sessionId = await newSession();
    const scenario = { steps: [{ step: 'plan', title: 'Plan' }, { approval: 'ship', prompt: 'Ship it?' }, { step: 'ship', title: 'Ship' }], output: { shipped: true } };
    const waiting = await runAs(adminKey, ['sessions', 'send', sessionId, JSON.stringify(scenario), '--executor', 'script', '--no-wait', '--json']);
    expect(waiting.code).toBe(4);
    const { run, wait } = JSON.parse(waiting.stdout) as SendResult & { wait: WaitView };
    expect(run).toMatchObject({ status: 'waiting_for_approval' });
    expect(wait).toMatchObject({ kind: 'approval', key: 'ship', status: 'open' });

    const shown = await runAs(adminKey, ['runs', 'show', run.id]);
    expect(shown.stdout).toMatch(/status\s+waiting_for_approval/);
    expect(shown.stdout).toContain(`runyard runs approve ${run.id} ${wait.id}`);

    const answered = parse<AnsweredWait>(await runAs(adminKey, ['runs', 'approve', run.id, wait.id, '--json']));
    expect(answered).toMatchObject({ wait: { status: 'answered', answer: { decision: 'approved' } }, run: { status: 'pending' } });
    await expectEventually(async () => expect(parse<RunView>(await runAs(adminKey, ['runs', 'show', run.id, '--json']))).toMatchObject({ status: 'completed', output: { shipped: true } }));
    const steps = parse<Page<PlanStepView>>(await runAs(adminKey, ['runs', 'steps', run.id, '--json']));
    expect(steps.data.map((step) => [step.key, step.status])).toEqual([
      ['plan', 'completed'],
      ['ship', 'completed'],
    ]);
    const again = await runAs(adminKey, ['runs', 'deny', run.id, wait.id]);
    expect(again.code).toBe(5);
    expect(again.stderr).toMatch(/run_terminal, HTTP 409/);
  });

  it('cancels a run and lists runs by session and status', async () => {
    const sessionId = await newSession();
    const scenario = { steps: [{ input: 'branch', prompt: 'Which branch?', schema: { type: 'object', required: ['branch'] } }] };
    const waiting = await runAs(adminKey, ['sessions', 'send', sessionId, JSON.stringify(scenario), '--executor', 'script', '--no-wait', '--json']);
    expect(waiting.code).toBe(4);
    const { run, wait } = JSON.parse(waiting.stdout) as SendResult & { wait: WaitView };
    expect(wait).toMatchObject({ kind: 'input' });

    const invalid = await runAs(adminKey, ['runs', 'respond', run.id, wait.id, '--input', '{"nope":1}']);
    expect(invalid.code).toBe(5);
    expect(invalid.stderr).toMatch(/validation_failed, HTTP 400/);
    const notJson = await runAs(adminKey, ['runs', 'respond', run.id, wait.id, '--input', '{nope']);
    expect(notJson).toMatchObject({ code: 2, stderr: expect.stringMatching(/--input is not valid JSON/) });

    const cancelled = await runAs(adminKey, ['runs', 'cancel', run.id, '--reason', 'not today']);
    expect(cancelled).toMatchObject({ code: 0, stdout: `Run ${run.id} is cancelled.\n` });
    const listed = parse<Page<RunView>>(await runAs(adminKey, ['runs', 'list', '--session', sessionId, '--status', 'cancelled', '--json']));
    expect(listed.data).toEqual([expect.objectContaining({ id: run.id, status: 'cancelled', cancel_reason: 'not today' })]);
    const table = await runAs(adminKey, ['runs', 'list', '-s', sessionId]);
    expect(table.stdout).toMatch(new RegExp(`${run.id}\\s+cancelled\\s+${sessionId}\\s+script\\s+chat`));
  });
});

describe('runs logs', () => {
  it("prints a run's log, and follows it from a seq until the log closes", async () => {
    const sessionId = await newSession();
    const waiting = await runAs(adminKey, ['sessions', 'send', sessionId, JSON.stringify({ steps: [{ approval: 'go', prompt: 'Go?' }] }), '--executor', 'script', '--no-wait', '--json']);
    expect(waiting.code).toBe(4);
    const { run, wait } = JSON.parse(waiting.stdout) as SendResult & { wait: WaitView };
    await api('POST', `/v1/runs/${run.id}/logs`, adminKey, { lines: [{ stream: 'stdout', text: 'one' }, { stream: 'stderr', level: 'error', text: 'two' }] });

    const listed = await runAs(adminKey, ['runs', 'logs', run.id, '--json']);
    expect(listed.code).toBe(0);
    const lines = listed.stdout.trim().split('\n').map((line) => JSON.parse(line) as LogLineView);
    const one = lines.find((line) => line.text === 'one')!;
    expect(lines.filter((line) => line.seq > one.seq).map((line) => [line.stream, line.text])).toEqual([['stderr', 'two']]);
    const table = await runAs(adminKey, ['runs', 'logs', run.id, '--stream', 'stderr']);
    expect(table.stdout.trim()).toMatch(new RegExp(`^${one.seq + 1} \\S+ stderr\\s+error two$`));

    const follow = start(['runs', 'logs', run.id, '-f', '--after-seq', String(one.seq), '--url', runyard.url, '--key', adminKey]);
    follow.child.stdin!.end();
    await expectEventually(() => expect(follow.stdout()).toMatch(/two/));
    await api('POST', `/v1/runs/${run.id}/logs`, adminKey, { lines: [{ stream: 'agent', text: 'three' }] });
    await expectEventually(() => expect(follow.stdout()).toMatch(/three/));
    expect((await runAs(adminKey, ['runs', 'approve', run.id, wait.id])).code).toBe(0);
    const result = await follow.exited;
    expect(result.code).toBe(0);
    expect(result.stdout).not.toMatch(/ one$/m);
    expect(result.stdout.indexOf('two')).toBeLessThan(result.stdout.indexOf('three'));
    expect(result.stderr).toMatch(/log closed/);
  });
});

describe('errors', () => {
  it('turns problems into one line with the code, and bad command lines into exit 2', async () => {
    const missing = await runAs(adminKey, ['sessions', 'show', randomUUID()]);
    expect(missing.code).toBe(5);
    expect(missing.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^runyard: .*\(not_found, HTTP 404, request \S+\)$/)]);

    expect(await runAs(adminKey, ['sessions', 'send', randomUUID()])).toMatchObject({ code: 2, stderr: expect.stringMatching(/takes <id> <text>/) });
    expect(await runAs(adminKey, ['sessions', 'list', '--colour'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/Unknown option '--colour'/) });
    expect(await runAs(adminKey, ['sessions', 'list', '--limit', '0'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/--limit must be/) });
    expect(await runAs(adminKey, ['flights', 'list'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/unknown command: flights/) });
    expect(await runAs(adminKey, ['runs', 'show', '../../v1/me'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/is not an id/) });

    const port = await freePort();
    const unreachable = await cli(['sessions', 'list', '--url', `http://127.0.0.1:${port}`, '--key', adminKey]);
    expect(unreachable).toMatchObject({ code: 6, stderr: expect.stringMatching(/cannot reach http:\/\/127\.0\.0\.1/) });
  });

  it('shows help for every command', async () => {
    const help = await cli(['--help']);
    expect(help).toMatchObject({ code: 0, stdout: expect.stringMatching(/Exit codes:/) });
    for (const command of [['login'], ['sessions', 'send'], ['runs', 'respond'], ['events', 'tail'], ['keys', 'create'], ['audit', 'list']]) {
      const result = await cli([...command, '--help']);
      expect(result).toMatchObject({ code: 0, stdout: expect.stringContaining(`Usage: runyard ${command.join(' ')}`) });
    }
  });
});

describe('keys and audit', () => {
  it('creates, lists and revokes a key, and the audit trail records it', async () => {
    const created = parse<{ id: string; name: string; prefix: string; key: string }>(await runAs(adminKey, ['keys', 'create', '--name', 'ci pipeline', '--json']));
    expect(created).toMatchObject({ name: 'ci pipeline', key: expect.stringMatching(/^ryk_/) });
    const listed = await runAs(adminKey, ['keys', 'list']);
    expect(listed.stdout).toMatch(new RegExp(`${created.id}\\s+ci pipeline\\s+${created.prefix}`));
    expect((await runAs(created.key, ['sessions', 'list'])).code).toBe(0);

    expect(await runAs(adminKey, ['keys', 'revoke', created.id])).toMatchObject({ code: 0, stdout: `Revoked key ${created.prefix} (ci pipeline).\n` });
    expect((await runAs(created.key, ['sessions', 'list'])).code).toBe(5);
    const audit = parse<Page<Json>>(await runAs(adminKey, ['audit', 'list', '--action', 'api_key.revoke', '--json']));
    expect(audit.data).toEqual([expect.objectContaining({ action: 'api_key.revoke', target_id: created.id, outcome: 'success' })]);
    expect((await runAs(adminKey, ['audit', 'list'])).stdout).toMatch(/api_key\.revoke\s+success/);
  });
});

describe('events tail', () => {
  it('prints one line per event of a session as it happens', async () => {
    const sessionId = await newSession();
    const tail = start(['events', 'tail', '-s', sessionId, '--json', '--url', runyard.url, '--key', adminKey]);
    // The stream is open once the server holds it: the first event sent after that reaches it.
    await expectEventually(async () => {
      await api('POST', `/v1/sessions/${sessionId}/messages`, adminKey, { role: 'system', content: 'ping' });
      expect(tail.stdout()).toMatch(/message\.appended/);
    });
    await api('POST', `/v1/sessions/${sessionId}/turns`, adminKey, { content: 'hi' });
    await expectEventually(() => expect(tail.stdout()).toMatch(/"event":"run\.status_changed".*"to":"completed"/));
    tail.child.kill('SIGINT');
    const result = await tail.exited;
    expect(result.code).toBe(130);
    const lines = result.stdout.trim().split('\n').map((line) => JSON.parse(line) as EventLine);
    expect(lines.every((line) => line.data.session_id === sessionId && typeof line.id === 'string')).toBe(true);
    expect(new Set(lines.map((line) => line.id)).size).toBe(lines.length);
  });

  describe('against a server that drops the connection', () => {
    let server: Server;
    let url: string;
    const requests: (string | undefined)[] = [];
    const envelope = (seq: number): string => JSON.stringify({ id: `e${seq}`, subject: 'runs.evt.run.progress.v1', occurred_at: '2025-01-01T00:00:00Z', run_id: 'r1', data: { message: `m${seq}` } });

    beforeAll(async () => {
      server = createServer((request: IncomingMessage, response: ServerResponse) => {
        requests.push(request.headers['last-event-id'] as string | undefined);
        response.writeHead(200, { 'content-type': 'text/event-stream' });
        switch (requests.length) {
          case 1:
            // An event, then one cut off in the middle: the client must resume after c-2, not c-3.
            response.write(`retry: 10\n\nid: c-1\nevent: ready\ndata: {}\n\nid: c-2\nevent: run.progress\ndata: ${envelope(2)}\n\nid: c-3\nevent: run.progress\n`);
            setImmediate(() => response.socket?.destroy());
            return;
          case 2:
            // A gap, a ping, a heartbeat that moves the cursor, then a clean end (the lifetime limit).
            response.end(`event: gap\ndata: {"reason":"retention","resumed_from":"c-2"}\n\n: ping\n\nid: c-4\nevent: heartbeat\ndata: {}\n\n`);
            return;
          default:
            response.write(`id: c-5\nevent: run.progress\ndata: ${envelope(5)}\n\n`);
            return; // held open until the client goes
        }
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });

    afterAll(async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    });

    it('resumes from the last complete id, warns of the gap, and repeats nothing', async () => {
      const tail = start(['events', 'tail', '--url', url, '--key', 'k']);
      await expectEventually(() => expect(tail.stdout()).toMatch(/m5/));
      tail.child.kill('SIGINT');
      const result = await tail.exited;
      expect(requests).toEqual([undefined, 'c-2', 'c-4']);
      expect(result.stdout.trim().split('\n')).toEqual([
        expect.stringMatching(/^2025-01-01T00:00:00Z {2}run\.progress {2}run=r1 {2}m2$/),
        expect.stringMatching(/^2025-01-01T00:00:00Z {2}run\.progress {2}run=r1 {2}m5$/),
      ]);
      expect(result.stderr).toMatch(/connection dropped.*resuming after c-2/);
      expect(result.stderr).toMatch(/warning: events were skipped/);
      expect(result.stderr).toMatch(/the server ended the stream; resuming after c-4/);
    });
  });
});

describe('colour', () => {
  it('is used only on a terminal without NO_COLOR', () => {
    expect(useColour({ isTTY: true }, {})).toBe(true);
    expect(useColour({ isTTY: true }, { NO_COLOR: '1' })).toBe(false);
    expect(useColour({ isTTY: false }, {})).toBe(false);
    expect(useColour({}, {})).toBe(false);
  });
});
