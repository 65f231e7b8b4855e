import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import {
  AnswerWait,
  CreateRun,
  DomainError,
  ErrorCode,
  GetRun,
  ListWaits,
  RecordTraceSpans,
  type AnyCommand,
  type CallerScope,
  type PayloadOf,
  type ReplyOf,
  type RunView,
  type TraceSpanInput,
} from '@runyard/contracts';
import { runWithTraceContext, startTrace, type Bus, type RequestOptions } from '@runyard/messaging';
import { newTenant, startRunsFixture, uniqueExecutor, type RunsFixture } from '@runyard/runs/testing';
import { expectEventually } from '@runyard/testing';
import type { Executor } from '../executor.js';
import { scriptExecutor } from '../executors/script.executor.js';
import { RecordingBus } from '../recording-bus.fixture.js';
import type { WorkerLogger } from '../worker-logger.js';
import { Worker } from '../worker.js';

// The spans a worker records for its runs (against the real runs service; the spans are taken by the
// recording bus, which plays the transcripts service): the tree of a `script` run across its
// suspension and resume, spans of `ctx.span`, and recording that fails without failing the run.
let fixture: RunsFixture;
const workers: Worker[] = [];

beforeAll(async () => {
  fixture = await startRunsFixture();
}, 60_000);
afterEach(async () => {
  await Promise.all(workers.splice(0).map((worker) => worker.stop()));
});
afterAll(() => fixture.close());

async function startWorker(bus: Bus, executors: Record<string, Executor>, logger?: WorkerLogger): Promise<void> {
  const worker = new Worker({ bus, workerId: `spans-${workers.length}-${Date.now()}`, executors, ...(logger ? { logger } : {}) });
  workers.push(worker);
  await worker.start();
}

function statusOf(scope: CallerScope, runId: string, status: RunView['status']): Promise<RunView> {
  return expectEventually(async () => {
    const run = await fixture.bus.request(GetRun, { scope, run_id: runId });
    expect(run.status).toBe(status);
    return run;
  });
}

interface Node {
  span: TraceSpanInput;
  children: Node[];
}

/** The spans as the transcripts service keeps them: per span id the first version, with the first end and final status, attributes merged. */
function recorded(spans: readonly TraceSpanInput[]): TraceSpanInput[] {
  const byId = new Map<string, TraceSpanInput>();
  for (const span of spans) {
    const known = byId.get(span.span_id);
    if (known === undefined) {
      byId.set(span.span_id, { ...span });
      continue;
    }
    known.attributes = { ...known.attributes, ...span.attributes };
    known.end_time ??= span.end_time;
    if (known.status === 'unset') Object.assign(known, { status: span.status, status_message: span.status_message });
  }
  return [...byId.values()].sort((a, b) => a.start_time.localeCompare(b.start_time));
}

function tree(spans: readonly TraceSpanInput[]): Node[] {
  const nodes = new Map(recorded(spans).map((span) => [span.span_id, { span, children: [] as Node[] }]));
  const roots: Node[] = [];
  for (const node of nodes.values()) {
    const parent = node.span.parent_span_id === undefined ? undefined : nodes.get(node.span.parent_span_id);
    (parent?.children ?? roots).push(node);
  }
  return roots;
}

type Shape = { name: string; kind: string; status: string; children: Shape[] } & Record<string, unknown>;
function shape(nodes: Node[], pick: (span: TraceSpanInput) => Record<string, unknown> = () => ({})): Shape[] {
  return nodes.map(({ span, children }) => ({ name: span.name, kind: span.kind, status: span.status, ...pick(span), children: shape(children, pick) }));
}

describe('the trace of a run', () => {
  it('of a script with steps, an approval and a failure: one root per pass, steps and the approval under them, all in the run’s trace', async () => {
    const { admin } = newTenant();
    const executor = uniqueExecutor();
    const bus = new RecordingBus(fixture.bus);
    await startWorker(bus, { [executor]: scriptExecutor });
    const scenario = { steps: [{ step: 'prepare' }, { approval: 'deploy', prompt: 'Deploy?' }, { step: 'build' }, { fail: 'boom' }] };
    const caller = startTrace();
    const run = await runWithTraceContext(caller, () => fixture.bus.request(CreateRun, { scope: admin, body: { route: { executor }, input: JSON.stringify(scenario) } }));

    await statusOf(admin, run.id, 'waiting_for_approval');
    const waits = await fixture.bus.request(ListWaits, { scope: admin, run_id: run.id, query: {} });
    await fixture.bus.request(AnswerWait, { scope: admin, run_id: run.id, wait_id: waits.data[0].id, decision: 'approved', reason: 'go' });
    await statusOf(admin, run.id, 'failed');

    const pick = (span: TraceSpanInput): Record<string, unknown> => {
      const { outcome, suspended, 'step.status': stepStatus, 'answer.decision': decision, 'answer.reason': reason, 'run.attempt': attempt } = span.attributes ?? {};
      return Object.fromEntries(Object.entries({ attempt, outcome, stepStatus, suspended, decision, reason, message: span.status_message }).filter(([, value]) => value !== undefined));
    };
    await expectEventually(() => {
      expect(shape(tree(bus.spans), pick)).toEqual([
        {
          name: 'run',
          kind: 'internal',
          status: 'ok',
          attempt: 1,
          outcome: 'suspended',
          children: [
            { name: 'step prepare', kind: 'state_change', status: 'ok', stepStatus: 'in_progress', children: [] },
            { name: 'step prepare', kind: 'state_change', status: 'ok', stepStatus: 'completed', children: [] },
            // Request → suspension on the first pass; the answer added by the pass that resumed.
            { name: 'approval deploy', kind: 'approval', status: 'ok', suspended: true, decision: 'approved', reason: 'go', children: [] },
          ],
        },
        {
          name: 'run',
          kind: 'internal',
          status: 'error',
          // A resume is the same attempt (attempts count claims after lost leases).
          attempt: 1,
          outcome: 'failed',
          message: 'boom',
          children: [
            { name: 'step build', kind: 'state_change', status: 'ok', stepStatus: 'in_progress', children: [] },
            { name: 'step build', kind: 'state_change', status: 'ok', stepStatus: 'completed', children: [] },
            { name: 'run failed', kind: 'state_change', status: 'ok', children: [] },
          ],
        },
      ]);
    });
    const spans = recorded(bus.spans);
    expect(new Set(spans.map((span) => span.trace_id))).toEqual(new Set([caller.traceId]));
    expect(spans.every((span) => span.end_time !== undefined && span.end_time >= span.start_time)).toBe(true);
    // One root per pass: the run's execution, under the runs service's span of the request that
    // created the run (a child of the caller's, not the caller's own), so one parent chain leads there.
    expect(run.trace_parent_span_id).toMatch(/^[0-9a-f]{16}$/);
    expect(run.trace_parent_span_id).not.toBe(caller.spanId);
    expect(await fixture.bus.request(GetRun, { scope: admin, run_id: run.id })).toMatchObject({ trace_id: caller.traceId, trace_parent_span_id: run.trace_parent_span_id });
    const roots = spans.filter((span) => span.name === 'run');
    expect(roots.map((span) => span.parent_span_id)).toEqual([run.trace_parent_span_id, run.trace_parent_span_id]);
    expect(spans.filter((span) => span.parent_span_id === run.trace_parent_span_id)).toEqual(roots);
  });

  it('of `ctx.span`: nested under the span it is called in, concurrent ones side by side, failures as errors, attributes bounded', async () => {
    const { admin } = newTenant();
    const executor = uniqueExecutor();
    const bus = new RecordingBus(fixture.bus);
    const agent: Executor = async (ctx) => {
      const answer = await ctx.span(
        'plan',
        'model_call',
        async (span) => {
          span.setAttributes({ tokens: 42 });
          await Promise.all([ctx.span('search', 'tool_call', () => Promise.resolve(1)), ctx.span('fetch', 'tool_call', () => Promise.resolve(2))]);
          return 'ok';
        },
        { model: 'm-1', prompt: 'p'.repeat(5000) },
      );
      await ctx.span('flaky', 'tool_call', () => Promise.reject(new Error('tool exploded'))).catch(() => undefined);
      return { answer };
    };
    await startWorker(bus, { [executor]: agent });
    // Created outside any trace: the run's spans get a trace of their own, named after the run.
    const run = await runWithTraceContext(undefined, () => fixture.bus.request(CreateRun, { scope: admin, body: { route: { executor } } }));
    await statusOf(admin, run.id, 'completed');

    await expectEventually(() =>
      expect(shape(tree(bus.spans))).toEqual([
        {
          name: 'run',
          kind: 'internal',
          status: 'ok',
          children: [
            {
              name: 'plan',
              kind: 'model_call',
              status: 'ok',
              children: [
                { name: 'search', kind: 'tool_call', status: 'ok', children: [] },
                { name: 'fetch', kind: 'tool_call', status: 'ok', children: [] },
              ],
            },
            { name: 'flaky', kind: 'tool_call', status: 'error', children: [] },
            { name: 'run completed', kind: 'state_change', status: 'ok', children: [] },
          ],
        },
      ]),
    );
    const spans = recorded(bus.spans);
    expect(new Set(spans.map((span) => span.trace_id))).toEqual(new Set([run.id.replaceAll('-', '')]));
    // No caller, no parent: the root is the trace's root.
    expect(run.trace_parent_span_id).toBeNull();
    expect(spans.find((span) => span.name === 'run')).not.toHaveProperty('parent_span_id');
    const plan = spans.find((span) => span.name === 'plan')!;
    expect(plan.attributes).toMatchObject({ model: 'm-1', tokens: 42 });
    expect((plan.attributes?.prompt as string).length).toBe(1024);
    expect(spans.find((span) => span.name === 'flaky')).toMatchObject({ status: 'error', status_message: 'tool exploded' });
  });

  it('is best effort: a transcripts service that cannot take spans fails no run, and is mentioned once', async () => {
    const { admin } = newTenant();
    const executor = uniqueExecutor();
    const warnings: string[] = [];
    const logger: WorkerLogger = { debug: () => undefined, info: () => undefined, warn: (_context, message) => warnings.push(message), error: () => undefined };
    let refusals = 0;
    // The fixture's bus, with the transcripts service down.
    const bus = new Proxy(fixture.bus, {
      get(target, property, receiver) {
        if (property === 'request') {
          return <C extends AnyCommand>(command: C, payload: PayloadOf<C>, options?: RequestOptions): Promise<ReplyOf<C>> => {
            if (command.subject !== RecordTraceSpans.subject) return target.request(command, payload, options);
            refusals++;
            return Promise.reject(new DomainError(ErrorCode.SERVICE_UNAVAILABLE, 'transcripts down'));
          };
        }
        if (property === 'close') return () => Promise.resolve();
        return Reflect.get(target, property, receiver) as unknown;
      },
    });
    const busy: Executor = async (ctx) => {
      for (let i = 0; i < 3; i++) await ctx.span(`tool ${i}`, 'tool_call', () => ctx.step(`s${i}`, { title: `Step ${i}`, status: 'completed' }));
      return { done: true };
    };
    await startWorker(bus, { [executor]: busy }, logger);
    const run = await fixture.bus.request(CreateRun, { scope: admin, body: { route: { executor } } });
    expect(await statusOf(admin, run.id, 'completed')).toMatchObject({ output: { done: true } });
    await expectEventually(() => expect(refusals).toBeGreaterThan(0));
    expect(warnings.filter((message) => message.startsWith('could not record trace spans'))).toHaveLength(1);
  });
});
