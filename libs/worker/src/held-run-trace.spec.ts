import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { AppendLogLines, ClaimRun, CompleteRun, CreateRun, GetRun, RecordTraceSpans, type AnyCommand, type PayloadOf, type ReplyOf, type RunView, type TraceSpanInput } from '@runyard/contracts';
import { parseTraceparent, runWithTraceContext, startTrace, type Bus, type MessageHeaders, type RequestOptions, type SubmitOptions } from '@runyard/messaging';
import { newTenant, startRunsFixture, uniqueExecutor, type RunsFixture } from '@runyard/runs/testing';
import { expectEventually } from '@runyard/testing';
import { echoExecutor } from './executors/echo.executor.js';
import { LogSink } from './log-sink.fixture.js';
import { Worker } from './worker.js';

// A run keeps the trace of the request that created it, and its worker carries that trace on in
// every request it makes for the run (embedded Postgres + in-process bus).
let fixture: RunsFixture;
const workers: Worker[] = [];

beforeAll(async () => {
  fixture = await startRunsFixture();
  // Echo logs a line: something must take it (the transcripts service is not part of this fixture).
  await LogSink.start(fixture.bus);
}, 60_000);

afterEach(async () => {
  await Promise.all(workers.splice(0).map((worker) => worker.stop()));
});

afterAll(() => fixture.close());

interface Sent {
  subject: string;
  runId: unknown;
  headers: MessageHeaders;
  /** The trace spans of a RecordTraceSpans request (none for others). */
  spans: TraceSpanInput[];
}

/** The fixture's bus, recording the headers of every request the worker sends. */
function recordingHeaders(inner: Bus, sent: Sent[]): Bus {
  const record = <C extends AnyCommand>(command: C, payload: PayloadOf<C>, options?: RequestOptions): void => {
    const spans = command.subject === RecordTraceSpans.subject ? (payload as PayloadOf<typeof RecordTraceSpans>).spans : [];
    sent.push({ subject: command.subject, runId: (payload as { run_id?: unknown }).run_id, headers: { ...options?.headers }, spans });
  };
  return new Proxy(inner, {
    get(target, property, receiver) {
      if (property === 'request') {
        return <C extends AnyCommand>(command: C, payload: PayloadOf<C>, options?: RequestOptions): Promise<ReplyOf<C>> => {
          record(command, payload, options);
          return target.request(command, payload, options);
        };
      }
      // Log batches go through the work queue.
      if (property === 'submit') {
        return <C extends AnyCommand>(command: C, payload: PayloadOf<C>, options: SubmitOptions): Promise<ReplyOf<C>> => {
          record(command, payload, options);
          return target.submit(command, payload, options);
        };
      }
      if (property === 'close') return () => Promise.resolve();
      return Reflect.get(target, property, receiver) as unknown;
    },
  });
}

async function completed(scope: ReturnType<typeof newTenant>['admin'], runId: string): Promise<RunView> {
  return expectEventually(async () => {
    const run = await fixture.bus.request(GetRun, { scope, run_id: runId });
    expect(run.status).toBe('completed');
    return run;
  });
}

describe('a run’s trace', () => {
  it('is kept from the request that created the run and sent with every request its worker makes for it', async () => {
    const { admin } = newTenant();
    const executor = uniqueExecutor();
    const caller = startTrace();
    const traced = await runWithTraceContext(caller, () => fixture.bus.request(CreateRun, { scope: admin, body: { input: 'traced', route: { executor } } }));
    const untraced = await runWithTraceContext(undefined, () => fixture.bus.request(CreateRun, { scope: admin, body: { input: 'untraced', route: { executor } } }));
    expect(traced.trace_id).toBe(caller.traceId);
    expect(untraced.trace_id).toBeNull();
    // And its span of that request — the runs service's own, a child of the caller's — as the parent
    // of the run's execution.
    expect(traced.trace_parent_span_id).toMatch(/^[0-9a-f]{16}$/);
    expect(traced.trace_parent_span_id).not.toBe(caller.spanId);
    expect(untraced.trace_parent_span_id).toBeNull();
    const sent: Sent[] = [];
    const worker = new Worker({ bus: recordingHeaders(fixture.bus, sent), workerId: `trace-${Date.now()}`, executors: { [executor]: echoExecutor } });
    workers.push(worker);

    await worker.start();
    await completed(admin, traced.id);
    await completed(admin, untraced.id);

    const forTraced = sent.filter((request) => request.runId === traced.id);
    // The execution's root span (sent once it ends, after the outcome) names that span as its parent.
    const rootOf = (runId: string): TraceSpanInput[] => sent.filter((request) => request.runId === runId).flatMap((request) => request.spans.filter((span) => span.name === 'run' && span.end_time !== undefined));
    await expectEventually(() => expect([rootOf(traced.id).length, rootOf(untraced.id).length]).toEqual([1, 1]));
    expect(rootOf(traced.id)[0]).toMatchObject({ trace_id: caller.traceId, parent_span_id: traced.trace_parent_span_id });
    expect(rootOf(untraced.id)[0]).not.toHaveProperty('parent_span_id');
    expect(forTraced.map((request) => request.subject)).toEqual(expect.arrayContaining([CompleteRun.subject, AppendLogLines.subject]));
    for (const request of forTraced) expect({ subject: request.subject, trace: parseTraceparent(request.headers.traceparent)?.traceId }).toEqual({ subject: request.subject, trace: caller.traceId });
    // A new span per request.
    expect(new Set(forTraced.map((request) => request.headers.traceparent)).size).toBe(forTraced.length);
    expect(sent.filter((request) => request.runId === untraced.id).every((request) => request.headers.traceparent === undefined)).toBe(true);
    // A claim is made before the worker knows any run: it carries no trace.
    expect(sent.filter((request) => request.subject === ClaimRun.subject).every((request) => request.headers.traceparent === undefined)).toBe(true);
  });
});
