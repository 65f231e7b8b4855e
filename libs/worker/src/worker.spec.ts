import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import {
  AnswerWait,
  CancelRun,
  ClaimRun,
  CompleteRun,
  CreateRun,
  CreateSession,
  ErrorCode,
  GetRun,
  ListPlanSteps,
  ListWaits,
  RunMessagePosted,
  type CallerScope,
  type ClaimedRun,
  type PayloadOf,
  type RunView,
} from '@runyard/contracts';
import { failure, newTenant, startRunsFixture, uniqueExecutor, type RunsFixture } from '@runyard/runs/testing';
import { expectEventually } from '@runyard/testing';
import type { RunStopped, StopReason } from './executor.js';
import { echoExecutor } from './executors/echo.executor.js';
import { scriptExecutor } from './executors/script.executor.js';
import { LogSink } from './log-sink.fixture.js';
import { RecordingBus } from './recording-bus.fixture.js';
import type { WorkerLogger } from './worker-logger.js';
import { Worker, type WorkerOptions } from './worker.js';

// The worker against the real runs and sessions services (embedded Postgres + in-process bus). Each
// test routes its runs to an executor name of its own, so workers of different tests never meet.
let fixture: RunsFixture;
const workers: Worker[] = [];

beforeAll(async () => {
  fixture = await startRunsFixture();
  // Run logs (ctx.log; echo writes one line) are delivered before a run's outcome: something must take them.
  await LogSink.start(fixture.bus);
}, 60_000);

afterEach(async () => {
  await Promise.all(workers.splice(0).map((worker) => worker.stop()));
});

afterAll(() => fixture.close());

/** A started worker on a recording view of the fixture's bus; stopped after the test. */
async function startWorker(
  executors: WorkerOptions['executors'],
  options: Partial<WorkerOptions> = {},
  prepare: (bus: RecordingBus) => void = () => undefined,
): Promise<{ worker: Worker; bus: RecordingBus }> {
  const bus = new RecordingBus(fixture.bus);
  prepare(bus);
  const worker = new Worker({ bus, workerId: `w-${workers.length}-${Date.now()}`, executors, ...options });
  workers.push(worker);
  await worker.start();
  return { worker, bus };
}

function create(scope: CallerScope, body: PayloadOf<typeof CreateRun>['body']): Promise<RunView> {
  return fixture.bus.request(CreateRun, { scope, body });
}

function get(scope: CallerScope, runId: string): Promise<RunView> {
  return fixture.bus.request(GetRun, { scope, run_id: runId });
}

/** Resolves once the run has `status` (polling), with the run. */
function statusOf(scope: CallerScope, runId: string, status: RunView['status'], timeoutMs = 10_000): Promise<RunView> {
  return expectEventually(
    async () => {
      const run = await get(scope, runId);
      expect(run.status).toBe(status);
      return run;
    },
    { timeoutMs },
  );
}

/** A promise with its resolve function, for executors that wait for the test. */
function gate(): { promise: Promise<void>; open(): void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

/** A logger that keeps what it is given, for tests about what the worker says. */
function recordingLogger(): WorkerLogger & { messages(level: 'debug' | 'info' | 'warn' | 'error'): string[] } {
  const lines: { level: string; message: string }[] = [];
  const at =
    (level: string) =>
    (_context: Record<string, unknown>, message: string): void => {
      lines.push({ level, message });
    };
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    messages: (level) => lines.filter((line) => line.level === level).map((line) => line.message),
  };
}

/** Resolves with the signal's stop reason once it aborts. */
function stopped(signal: AbortSignal): Promise<StopReason> {
  return new Promise((resolve) => {
    const done = (): void => resolve((signal.reason as RunStopped).reason);
    if (signal.aborted) done();
    else signal.addEventListener('abort', done, { once: true });
  });
}

describe('executing runs', () => {
  it('completes a run with the output of its executor, and fails one whose executor throws with its message only', async () => {
    const { admin } = newTenant();
    const executor = uniqueExecutor();
    await startWorker({
      [executor]: (ctx) => (ctx.run.input === 'boom' ? Promise.reject(new Error('the tool broke')) : Promise.resolve({ got: ctx.run.input, attempt: ctx.attempt })),
    });
    const ok = await create(admin, { route: { executor }, input: 'hello' });
    const bad = await create(admin, { route: { executor }, input: 'boom' });
    expect(await statusOf(admin, ok.id, 'completed')).toMatchObject({ output: { got: 'hello', attempt: 1 }, attempt: 1 });
    expect(await statusOf(admin, bad.id, 'failed')).toMatchObject({ failure_class: 'error', failure_message: 'the tool broke' });
  });

  it('never executes more than `concurrency` runs at once, and works through all of them', async () => {
    const { admin } = newTenant();
    const executor = uniqueExecutor();
    let most = 0;
    /** Executing runs, each waiting for the test to let it finish. */
    const executing = new Map<string, () => void>();
    const runs = await Promise.all(Array.from({ length: 8 }, (_, i) => create(admin, { route: { executor }, input: `run ${i}` })));
    await startWorker(
      {
        [executor]: async (ctx) => {
          await new Promise<void>((resolve) => {
            executing.set(ctx.run.id, resolve);
            most = Math.max(most, executing.size);
          });
          executing.delete(ctx.run.id);
          return undefined;
        },
      },
      { concurrency: 3 },
    );
    // Full slots, then one run finishes at a time: each freed slot takes exactly one more run.
    for (let left = runs.length; left > 0; left--) {
      await expectEventually(() => expect(executing.size).toBe(Math.min(3, left)));
      const [[runId, finish]] = executing.entries();
      finish();
      await expectEventually(() => expect(executing.has(runId)).toBe(false));
    }
    for (const run of runs) await statusOf(admin, run.id, 'completed');
    expect(most).toBe(3);
  });

  it('claims a new run within moments through the event tail, long before its next poll', async () => {
    const { admin } = newTenant();
    const executor = uniqueExecutor();
    const { bus } = await startWorker({ [executor]: () => Promise.resolve({ done: true }) }, { claimPollMs: 60_000 });
    // The worker's first claim round has found nothing.
    await expectEventually(() => expect(bus.requests.filter((request) => request.subject === ClaimRun.subject && request.outcome === 'ok')).toHaveLength(1));
    const run = await create(admin, { route: { executor } });
    await statusOf(admin, run.id, 'completed', 3000);
  });
});

describe('cancel', () => {
  it('reaches the executor through the pushed status change, and the worker finishes the cancel', async () => {
    const { admin } = newTenant();
    const executor = uniqueExecutor();
    const started = gate();
    let reason: StopReason | undefined;
    // A 60 s lease renews every 20 s: within this test only the pushed status change can tell the worker.
    const { bus } = await startWorker(
      {
        [executor]: async (ctx) => {
          started.open();
          reason = await stopped(ctx.signal);
          return { ignored: true };
        },
      },
      { leaseTtlMs: 60_000, claimPollMs: 60_000 },
    );
    const run = await create(admin, { route: { executor } });
    await started.promise;
    await fixture.bus.request(CancelRun, { scope: admin, run_id: run.id, body: { reason: 'changed my mind' } });
    await expectEventually(() => expect(reason).toBe('cancelled'), { timeoutMs: 3000 });
    await statusOf(admin, run.id, 'cancelled', 3000);
    expect(bus.about(run.id).map((request) => `${request.subject} ${request.outcome}`)).toEqual(['runs.cmd.run.finish_cancel.v1 ok']);
  });
});

describe('losing the lease', () => {
  it('aborts the executor when the lease cannot be renewed, refuses its late writes and reports nothing', async () => {
    const { admin } = newTenant();
    const executor = uniqueExecutor();
    const takenOver = gate();
    let reason: StopReason | undefined;
    let lateWrite: string | undefined;
    const { bus } = await startWorker(
      {
        [executor]: async (ctx) => {
          reason = await stopped(ctx.signal);
          lateWrite = (await failure(ctx.step('late', { title: 'Too late' }))).code;
          // Still going when another worker has the run: whatever it returns must not be written.
          await takenOver.promise;
          return { late: true };
        },
      },
      { leaseTtlMs: 300, concurrency: 1 },
    );
    // Cut off from the runs service: renewals do not arrive.
    bus.holdRenewals();
    const run = await create(admin, { route: { executor } });

    await expectEventually(() => expect(reason).toBe('lease_lost'));
    expect(lateWrite).toBe(ErrorCode.LEASE_LOST);
    // The runs service recovers the run, and another worker takes it over.
    await statusOf(admin, run.id, 'pending');
    const other: ClaimedRun | null = await fixture.bus.request(ClaimRun, { worker_id: 'other-worker', executors: [executor], lease_ttl_ms: 60_000 });
    expect(other?.run.id).toBe(run.id);
    bus.releaseRenewals();
    takenOver.open();

    const sent = await expectEventually(() => {
      const about = bus.about(run.id);
      expect(about.filter((request) => request.subject === 'runs.cmd.run.renew_lease.v1').every((request) => request.outcome === ErrorCode.LEASE_LOST)).toBe(true);
      expect(about.every((request) => request.outcome !== undefined)).toBe(true);
      return about;
    });
    expect(sent.map((request) => request.subject).filter((subject) => subject !== 'runs.cmd.run.renew_lease.v1')).toEqual([]);
    expect(await get(admin, run.id)).toMatchObject({ status: 'running', worker_id: 'other-worker', attempt: 2 });
    // The stale token is refused by the runs service too (fencing), and the new holder finishes.
    const held = { tenant_id: run.tenant_id, run_id: run.id };
    expect((await failure(fixture.bus.request(CompleteRun, { ...held, lease_token: 1, output: { late: true } }))).code).toBe(ErrorCode.LEASE_LOST);
    expect(await fixture.bus.request(CompleteRun, { ...held, lease_token: other!.lease_token, output: { by: 'other' } })).toMatchObject({ status: 'completed', output: { by: 'other' } });
  });
});

describe('reporting the outcome', () => {
  it('takes a retried completion refused as run_terminal as done when the first attempt committed and only its reply was lost', async () => {
    const { admin } = newTenant();
    const executor = uniqueExecutor();
    const logger = recordingLogger();
    const { worker, bus } = await startWorker({ [executor]: () => Promise.resolve({ done: true }) }, { logger }, (recording) =>
      recording.loseRepliesOf(CompleteRun.subject),
    );
    const run = await create(admin, { route: { executor } });

    expect(await statusOf(admin, run.id, 'completed')).toMatchObject({ output: { done: true }, attempt: 1 });
    await expectEventually(() => expect(worker.activeRuns).toBe(0));
    const reports = bus.about(run.id).filter((request) => request.subject === CompleteRun.subject);
    expect(reports.map((request) => request.outcome)).toEqual([ErrorCode.UPSTREAM_TIMEOUT, ErrorCode.RUN_TERMINAL]);
    // Reported, not lost: nothing to warn about.
    expect(logger.messages('warn')).toEqual([]);
    expect(logger.messages('error')).toEqual([]);
    expect(logger.messages('debug')).toContain('run reported: the retry found it ended, most likely by the earlier attempt');
  });
});

describe('without the event tail', () => {
  it('says once that the tail is down, however many retries fail, and once that it is back', async () => {
    const executor = uniqueExecutor();
    const logger = recordingLogger();
    const { bus } = await startWorker({ [executor]: () => Promise.resolve(undefined) }, { claimPollMs: 20, logger }, (recording) => recording.breakTail());
    await expectEventually(() => expect(bus.tailAttempts).toBeGreaterThanOrEqual(5));
    expect(logger.messages('warn')).toEqual(['event tail failed; polling until it is back']);

    bus.repairTail();
    await expectEventually(() => expect(logger.messages('info')).toContain('event tail works again'));
    const attempts = bus.tailAttempts;
    // Back for good: while the worker keeps polling, the tail is not retried any more.
    const claims = (): number => bus.requests.filter((request) => request.subject === ClaimRun.subject).length;
    const claimsBefore = claims();
    await expectEventually(() => expect(claims()).toBeGreaterThan(claimsBefore + 5));
    expect(bus.tailAttempts).toBe(attempts);
    expect(logger.messages('warn')).toHaveLength(1);
    expect(logger.messages('info').filter((message) => message === 'event tail works again')).toHaveLength(1);
  });

  it('still claims by polling and learns of a cancel from the heartbeat', async () => {
    const { admin } = newTenant();
    const executor = uniqueExecutor();
    const started = gate();
    let reason: StopReason | undefined;
    const { bus } = await startWorker(
      {
        [executor]: async (ctx) => {
          started.open();
          reason = await stopped(ctx.signal);
          return undefined;
        },
      },
      { leaseTtlMs: 600, claimPollMs: 100 },
      (recording) => recording.breakTail(),
    );
    const run = await create(admin, { route: { executor } });
    await started.promise;
    await fixture.bus.request(CancelRun, { scope: admin, run_id: run.id, body: {} });
    await expectEventually(() => expect(reason).toBe('cancelled'));
    await statusOf(admin, run.id, 'cancelled');
    const sent = bus.about(run.id).map((request) => `${request.subject} ${request.outcome}`);
    expect(sent.at(-2)).toBe('runs.cmd.run.renew_lease.v1 ok');
    expect(sent.at(-1)).toBe('runs.cmd.run.finish_cancel.v1 ok');
  });

  it('aborts the executor when a renewal is refused because the run ended elsewhere, and writes nothing more', async () => {
    const { admin } = newTenant();
    const executor = uniqueExecutor();
    let reason: StopReason | undefined;
    const { bus } = await startWorker(
      {
        [executor]: async (ctx) => {
          reason = await stopped(ctx.signal);
          return { late: true };
        },
      },
      { leaseTtlMs: 600, claimPollMs: 100 },
      (recording) => recording.breakTail(),
    );
    // The runs service fails it with `timeout` after a second, while the worker still holds it.
    const run = await create(admin, { route: { executor }, max_duration_seconds: 1 });
    await expectEventually(() => expect(reason).toBe('lease_lost'), { timeoutMs: 5000 });
    expect(await get(admin, run.id)).toMatchObject({ status: 'failed', failure_class: 'timeout' });
    const sent = bus.about(run.id).map((request) => `${request.subject} ${request.outcome}`);
    expect(sent.at(-1)).toBe('runs.cmd.run.renew_lease.v1 run_terminal');
    expect(sent.filter((request) => !request.startsWith('runs.cmd.run.renew_lease.v1'))).toEqual([]);
  });
});

describe('stop', () => {
  it('stops claiming, lets runs in hand finish within the drain time, and gives the rest back', async () => {
    const { admin } = newTenant();
    const executor = uniqueExecutor();
    const quickMayFinish = gate();
    let slowReason: StopReason | undefined;
    const { worker, bus } = await startWorker(
      {
        [executor]: async (ctx) => {
          if (ctx.run.input === 'quick') {
            await quickMayFinish.promise;
            return { quick: true };
          }
          slowReason = await stopped(ctx.signal);
          return { slow: true };
        },
      },
      { concurrency: 2, leaseTtlMs: 60_000 },
    );
    const quick = await create(admin, { route: { executor }, input: 'quick' });
    const slow = await create(admin, { route: { executor }, input: 'slow' });
    await expectEventually(() => expect(worker.activeRuns).toBe(2));

    const stopping = worker.stop({ drainMs: 1000 });
    const later = await create(admin, { route: { executor }, input: 'later' });
    quickMayFinish.open();
    await stopping;

    expect(await get(admin, quick.id)).toMatchObject({ status: 'completed', output: { quick: true } });
    expect(slowReason).toBe('shutdown');
    expect(bus.about(slow.id).map((request) => `${request.subject} ${request.outcome}`)).toEqual(['runs.cmd.run.release.v1 ok']);
    expect(await get(admin, slow.id)).toMatchObject({ status: 'pending' });
    expect(await get(admin, later.id)).toMatchObject({ status: 'pending', attempt: 0 });
    expect(worker.activeRuns).toBe(0);

    // Another worker takes both over at once.
    await startWorker({ [executor]: () => Promise.resolve({ second: true }) });
    expect(await statusOf(admin, slow.id, 'completed')).toMatchObject({ output: { second: true } });
    expect(await statusOf(admin, later.id, 'completed')).toMatchObject({ output: { second: true } });
  });
});

describe('built-in executors', () => {
  it('echo replies with the input: a completed `reply` step with the text as evidence, the assistant message and the output', async () => {
    const { admin } = newTenant();
    const executor = uniqueExecutor();
    await startWorker({ [executor]: echoExecutor });
    const session = await fixture.bus.request(CreateSession, { scope: admin, body: { title: 'echo' } });
    const run = await create(admin, { session_id: session.id, route: { executor }, input: 'hello there' });
    expect(await statusOf(admin, run.id, 'completed')).toMatchObject({ output: { text: 'hello there' } });
    const steps = await fixture.bus.request(ListPlanSteps, { scope: admin, run_id: run.id, query: {} });
    expect(steps.data).toEqual([
      expect.objectContaining({ key: 'reply', title: 'Reply', status: 'completed', position: 1, evidence: [{ kind: 'text', text: 'hello there' }] }),
    ]);
    // The message is published for the sessions service, which appends it to the chat.
    await expectEventually(() =>
      expect(fixture.events.filter((event) => event.subject === RunMessagePosted.subject && event.run_id === run.id).map((event) => event.data)).toEqual([
        expect.objectContaining({ session_id: session.id, key: 'reply', content: 'hello there' }),
      ]),
    );
  });

  it('script: an approval suspends the run; answered, the same run resumes with the answer and repeats no step', async () => {
    const { admin } = newTenant();
    const executor = uniqueExecutor();
    await startWorker({ [executor]: scriptExecutor });
    const scenario = {
      steps: [
        { step: 'prepare', title: 'Prepare', evidence: 'prepared' },
        { approval: 'deploy', prompt: 'Deploy to prod?' },
        { step: 'deploy', title: 'Deploy', evidence: 'deployed' },
      ],
      output: { done: true },
    };
    const run = await create(admin, { route: { executor }, input: JSON.stringify(scenario) });
    await statusOf(admin, run.id, 'waiting_for_approval');
    const waits = await fixture.bus.request(ListWaits, { scope: admin, run_id: run.id, query: {} });
    expect(waits.data).toEqual([expect.objectContaining({ key: 'deploy', kind: 'approval', status: 'open', prompt: 'Deploy to prod?' })]);

    await fixture.bus.request(AnswerWait, { scope: admin, run_id: run.id, wait_id: waits.data[0].id, decision: 'approved', reason: 'go' });
    const done = await statusOf(admin, run.id, 'completed');
    expect(done.output).toEqual({ done: true, answers: { deploy: { decision: 'approved', reason: 'go' } } });
    const steps = await fixture.bus.request(ListPlanSteps, { scope: admin, run_id: run.id, query: {} });
    expect(steps.data.map(({ key, status, evidence }) => ({ key, status, evidence }))).toEqual([
      { key: 'prepare', status: 'completed', evidence: [{ kind: 'text', text: 'prepared' }] },
      { key: 'deploy', status: 'completed', evidence: [{ kind: 'text', text: 'deployed' }] },
    ]);
  });

  it('script: a denied approval fails the run with a message that says so', async () => {
    const { admin } = newTenant();
    const executor = uniqueExecutor();
    await startWorker({ [executor]: scriptExecutor });
    const run = await create(admin, { route: { executor }, input: JSON.stringify({ steps: [{ approval: 'deploy', prompt: 'Deploy?' }] }) });
    await statusOf(admin, run.id, 'waiting_for_approval');
    const waits = await fixture.bus.request(ListWaits, { scope: admin, run_id: run.id, query: {} });
    await fixture.bus.request(AnswerWait, { scope: admin, run_id: run.id, wait_id: waits.data[0].id, decision: 'denied', reason: 'not today' });
    expect(await statusOf(admin, run.id, 'failed')).toMatchObject({ failure_message: 'approval "deploy" was denied: not today' });
  });

  it('script: an input request resumes with the answer in the output', async () => {
    const { admin } = newTenant();
    const executor = uniqueExecutor();
    await startWorker({ [executor]: scriptExecutor });
    const scenario = { steps: [{ input: 'branch', prompt: 'Which branch?', schema: { type: 'object', required: ['name'] } }, { progress: 'got it' }] };
    const run = await create(admin, { route: { executor }, input: JSON.stringify(scenario) });
    await statusOf(admin, run.id, 'waiting_for_input');
    const waits = await fixture.bus.request(ListWaits, { scope: admin, run_id: run.id, query: {} });
    await fixture.bus.request(AnswerWait, { scope: admin, run_id: run.id, wait_id: waits.data[0].id, decision: 'responded', input: { name: 'main' } });
    expect(await statusOf(admin, run.id, 'completed')).toMatchObject({ output: { answers: { branch: { input: { name: 'main' } } } } });
  });

  it('script: fails the run on a `fail` item, and on a scenario it cannot read, saying why', async () => {
    const { admin } = newTenant();
    const executor = uniqueExecutor();
    await startWorker({ [executor]: scriptExecutor });
    const failing = await create(admin, { route: { executor }, input: JSON.stringify({ steps: [{ delay_ms: 1 }, { fail: 'boom' }] }) });
    const unreadable = await create(admin, { route: { executor }, input: 'not json' });
    const tooLong = await create(admin, { route: { executor }, input: JSON.stringify({ steps: [{ delay_ms: 600_000 }, { step: 'more', delay_ms: 1 }] }) });
    expect(await statusOf(admin, failing.id, 'failed')).toMatchObject({ failure_message: 'boom' });
    expect((await statusOf(admin, unreadable.id, 'failed')).failure_message).toMatch(/^script: the run input must be a JSON scenario/);
    expect((await statusOf(admin, tooLong.id, 'failed')).failure_message).toMatch(/^script: the delays of a scenario must add up to at most 600000 ms/);
  });
});
