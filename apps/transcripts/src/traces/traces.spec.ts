import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  CreateRun,
  ErrorCode,
  GetRunTrace,
  RecordTraceSpans,
  RUN_TRACE_REPLY_MAX_BYTES,
  TRACE_SPAN_BATCH_MAX_SPANS,
  type CallerScope,
  type TraceSpanInput,
  type TraceSpanNode,
} from '@runyard/contracts';
import { newSpanId, newTraceId, type InProcessBus } from '@runyard/messaging';
import { failure, newTenant } from '@runyard/runs/testing';
import { v7 as uuidv7 } from 'uuid';
import { startTranscriptsFixture, type TranscriptsFixture } from '../transcripts.fixture.js';
import { buildTraceTree, TRACE_TREE_MAX_DEPTH } from './trace-tree.js';

// Run traces on standalone pieces (embedded Postgres + in-process bus, next to the real runs
// service): idempotent upserts of spans sent at start and at end, the tree, tenant and owner
// scoping, and the limits per batch, per run and per reply.
const MAX_SPANS_PER_RUN = 150;

let fixture: TranscriptsFixture;
let bus: InProcessBus;

beforeAll(async () => {
  fixture = await startTranscriptsFixture({}, { maxSpansPerRun: MAX_SPANS_PER_RUN });
  ({ bus } = fixture);
}, 60_000);
afterAll(() => fixture?.close());

/** A run of the caller's (so owned by them): a trace is taken only for a run the runs service knows. */
async function newRun(scope: CallerScope): Promise<string> {
  return (await bus.request(CreateRun, { scope, body: { route: { executor: `x-${uuidv7()}` } } })).id;
}

const T0 = Date.parse('2030-01-01T00:00:00.000Z');
const at = (ms: number): string => new Date(T0 + ms).toISOString();

function span(traceId: string, name: string, fields: Partial<TraceSpanInput> = {}): TraceSpanInput {
  return { trace_id: traceId, span_id: newSpanId(), name, kind: 'internal', start_time: at(0), status: 'unset', ...fields };
}

function record(scope: CallerScope, runId: string, spans: TraceSpanInput[]) {
  return bus.request(RecordTraceSpans, { tenant_id: scope.tenant_id, run_id: runId, spans });
}

function shape(nodes: TraceSpanNode[]): unknown[] {
  return nodes.map((node) => ({ name: node.name, children: shape(node.children) }));
}

describe('recording spans', () => {
  it('takes a span at its start and again at its end: the end, the first final status and merged attributes stick', async () => {
    const { admin } = newTenant();
    const runId = await newRun(admin);
    const traceId = newTraceId();
    const started = span(traceId, 'call tool', { kind: 'tool_call', start_time: at(0), attributes: { tool: 'grep' } });
    expect(await record(admin, runId, [started])).toEqual({ recorded: 1, refused: 0, limit_reached: false });
    let tree = await bus.request(GetRunTrace, { scope: admin, run_id: runId });
    expect(tree.spans[0]).toMatchObject({ span_id: started.span_id, status: 'unset', end_time: null, duration_ms: null });

    // The end, sent twice (a retry), then a late re-send with another status: the first end wins.
    const ended = { ...started, start_time: at(5), end_time: at(120), status: 'error' as const, status_message: 'exit 2', attributes: { exit_code: 2 } };
    expect(await record(admin, runId, [ended])).toEqual({ recorded: 1, refused: 0, limit_reached: false });
    await record(admin, runId, [ended]);
    await record(admin, runId, [{ ...started, end_time: at(999), status: 'ok', attributes: { late: true } }]);

    tree = await bus.request(GetRunTrace, { scope: admin, run_id: runId });
    expect(tree).toEqual({
      run_id: runId,
      trace_id: traceId,
      span_count: 1,
      truncated: false,
      limit_reached: false,
      spans: [
        {
          span_id: started.span_id,
          parent_span_id: null,
          name: 'call tool',
          kind: 'tool_call',
          status: 'error',
          status_message: 'exit 2',
          start_time: at(0),
          end_time: at(120),
          duration_ms: 120,
          attributes: { tool: 'grep', exit_code: 2, late: true },
          children: [],
        },
      ],
    });
  });

  it('refuses a batch that is malformed, too big, repeats a span or ends one before it starts', async () => {
    const { admin } = newTenant();
    const runId = await newRun(admin);
    const traceId = newTraceId();
    const tooMany = Array.from({ length: TRACE_SPAN_BATCH_MAX_SPANS + 1 }, (_, i) => span(traceId, `s${i}`));
    expect((await failure(record(admin, runId, tooMany))).code).toBe(ErrorCode.VALIDATION_FAILED);
    expect((await failure(record(admin, runId, [span(traceId, 'x', { kind: 'banana' as never })]))).code).toBe(ErrorCode.VALIDATION_FAILED);
    expect((await failure(record(admin, runId, [span('not-a-trace', 'x')]))).code).toBe(ErrorCode.VALIDATION_FAILED);
    const oversized = span(traceId, 'big', { attributes: { blob: 'x'.repeat(9000) } });
    expect((await failure(record(admin, runId, [oversized]))).code).toBe(ErrorCode.VALIDATION_FAILED);
    const twice = span(traceId, 'twice');
    expect(await failure(record(admin, runId, [twice, { ...twice, end_time: at(1) }]))).toMatchObject({ code: ErrorCode.VALIDATION_FAILED, message: expect.stringContaining('more than once') });
    expect(await failure(record(admin, runId, [span(traceId, 'backwards', { start_time: at(10), end_time: at(5) })]))).toMatchObject({
      code: ErrorCode.VALIDATION_FAILED,
      message: 'end_time must not be before start_time',
    });
    // A whole batch of large spans is over the bytes of one message.
    const heavy = Array.from({ length: 70 }, (_, i) => span(traceId, `h${i}`, { attributes: { blob: 'y'.repeat(7900) } }));
    expect((await failure(record(admin, runId, heavy))).code).toBe(ErrorCode.PAYLOAD_TOO_LARGE);
    // Nothing of it was stored.
    expect(await bus.request(GetRunTrace, { scope: admin, run_id: runId })).toMatchObject({ span_count: 0, spans: [], trace_id: null });
  });

  it('holds at most the per-run limit of spans: new ones past it are refused, updates of recorded ones still taken', async () => {
    const { admin } = newTenant();
    const runId = await newRun(admin);
    const traceId = newTraceId();
    const first = Array.from({ length: MAX_SPANS_PER_RUN - 2 }, (_, i) => span(traceId, `s${i}`, { start_time: at(i) }));
    expect(await record(admin, runId, first)).toEqual({ recorded: MAX_SPANS_PER_RUN - 2, refused: 0, limit_reached: false });

    // An update and 4 new spans, 2 of which fit.
    const update = { ...first[0], end_time: at(50), status: 'ok' as const };
    const fresh = Array.from({ length: 4 }, (_, i) => span(traceId, `n${i}`, { start_time: at(1000 + i) }));
    expect(await record(admin, runId, [update, ...fresh])).toEqual({ recorded: 3, refused: 2, limit_reached: true });

    const refused = await failure(record(admin, runId, [span(traceId, 'one more')]));
    expect(refused).toMatchObject({ code: ErrorCode.PAYLOAD_TOO_LARGE, message: expect.stringContaining(`limit of ${MAX_SPANS_PER_RUN} spans`) });
    // The end of a span already recorded is still taken.
    expect(await record(admin, runId, [{ ...fresh[0], end_time: at(2000), status: 'ok' }])).toEqual({ recorded: 1, refused: 0, limit_reached: true });

    const tree = await bus.request(GetRunTrace, { scope: admin, run_id: runId });
    expect(tree).toMatchObject({ span_count: MAX_SPANS_PER_RUN, limit_reached: true, truncated: false });
    const names = tree.spans.map((node) => node.name);
    expect(names).toHaveLength(MAX_SPANS_PER_RUN);
    expect(names.slice(-2)).toEqual(['n0', 'n1']);
    expect(tree.spans[0]).toMatchObject({ name: 's0', status: 'ok', duration_ms: 50 });
    expect(tree.spans.find((node) => node.name === 'n0')).toMatchObject({ status: 'ok', end_time: at(2000) });
  });

  it('keeps each run’s trace to its tenant', async () => {
    const mine = newTenant();
    const theirs = newTenant();
    const runId = await newRun(mine.admin);
    const traceId = newTraceId();
    const secret = span(traceId, 'secret', { attributes: { token_count: 3 } });
    await record(mine.admin, runId, [secret]);

    // Another tenant reads nothing and can neither add spans to the run nor touch the recorded one.
    expect(await bus.request(GetRunTrace, { scope: theirs.admin, run_id: runId })).toEqual({
      run_id: runId,
      trace_id: null,
      span_count: 0,
      spans: [],
      truncated: false,
      limit_reached: false,
    });
    expect((await failure(record(theirs.admin, runId, [{ ...secret, status: 'error', end_time: at(1) }]))).code).toBe(ErrorCode.NOT_FOUND);
    expect((await failure(record(theirs.admin, runId, [span(traceId, 'intruder')]))).code).toBe(ErrorCode.NOT_FOUND);

    const tree = await bus.request(GetRunTrace, { scope: mine.admin, run_id: runId });
    expect(tree.spans).toEqual([expect.objectContaining({ name: 'secret', status: 'unset', end_time: null })]);
  });

  it('takes spans only for a run the runs service knows: no trace row for an unknown one', async () => {
    const { admin } = newTenant();
    const unknown = uuidv7();
    expect(await failure(record(admin, unknown, [span(newTraceId(), 'ghost')]))).toMatchObject({ code: ErrorCode.NOT_FOUND, message: `run ${unknown} not found` });
    const rows: unknown[] = await fixture.dataSource.query(`SELECT run_id FROM run_traces WHERE run_id = $1`, [unknown]);
    expect(rows).toEqual([]);
    expect(await bus.request(GetRunTrace, { scope: admin, run_id: unknown })).toMatchObject({ span_count: 0, spans: [] });
  });
});

describe('reading a trace', () => {
  it('shows a member their own runs’ traces only; another member gets NOT_FOUND as for an unknown run, an admin the tenant’s', async () => {
    const { admin, member } = newTenant();
    const owner = member();
    const other = member();
    const runId = await newRun(owner);
    const traceId = newTraceId();
    await record(owner, runId, [span(traceId, 'run', { start_time: at(0), end_time: at(10), status: 'ok' })]);

    const expected = { run_id: runId, trace_id: traceId, span_count: 1, spans: [expect.objectContaining({ name: 'run', status: 'ok', duration_ms: 10 })] };
    expect(await bus.request(GetRunTrace, { scope: owner, run_id: runId })).toMatchObject(expected);
    expect(await bus.request(GetRunTrace, { scope: admin, run_id: runId })).toMatchObject(expected);
    // Straight over the bus, past the gateway's own check of the run: the same answer as for a run that does not exist.
    expect(await failure(bus.request(GetRunTrace, { scope: other, run_id: runId }))).toMatchObject({ code: ErrorCode.NOT_FOUND, message: `run ${runId} not found` });
    // The run's owner is stored with its trace row, from the runs service's answer.
    expect(await fixture.dataSource.query(`SELECT owner_id FROM run_traces WHERE run_id = $1`, [runId])).toEqual([{ owner_id: owner.principal_id }]);
  });

  it('shows a trace whose owner was never learned to no member, until its next batch learns it', async () => {
    const { admin, member } = newTenant();
    const owner = member();
    const runId = await newRun(owner);
    const traceId = newTraceId();
    await record(owner, runId, [span(traceId, 'first', { start_time: at(0) })]);
    // As a row from before owners were kept.
    await fixture.dataSource.query(`UPDATE run_traces SET owner_id = NULL, session_id = NULL WHERE run_id = $1`, [runId]);

    expect(await failure(bus.request(GetRunTrace, { scope: owner, run_id: runId }))).toMatchObject({ code: ErrorCode.NOT_FOUND, message: `run ${runId} not found` });
    expect(await bus.request(GetRunTrace, { scope: admin, run_id: runId })).toMatchObject({ span_count: 1, spans: [expect.objectContaining({ name: 'first' })] });

    expect(await record(owner, runId, [span(traceId, 'second', { start_time: at(1) })])).toEqual({ recorded: 1, refused: 0, limit_reached: false });
    const tree = await bus.request(GetRunTrace, { scope: owner, run_id: runId });
    expect(tree).toMatchObject({ span_count: 2 });
    expect(tree.spans.map((node) => node.name)).toEqual(['first', 'second']);
    expect(await failure(bus.request(GetRunTrace, { scope: member(), run_id: runId }))).toMatchObject({ code: ErrorCode.NOT_FOUND });
  });
});

describe('the trace tree', () => {
  it('nests spans under their parents, in start order, with roots for spans whose parent is unknown', async () => {
    const { admin } = newTenant();
    const runId = await newRun(admin);
    const traceId = newTraceId();
    const root = span(traceId, 'run', { start_time: at(0), end_time: at(100), status: 'ok' });
    const second = span(traceId, 'second', { parent_span_id: root.span_id, start_time: at(30), end_time: at(40), status: 'ok' });
    const first = span(traceId, 'first', { parent_span_id: root.span_id, start_time: at(10), end_time: at(20), status: 'ok' });
    const grandchild = span(traceId, 'grandchild', { parent_span_id: first.span_id, start_time: at(12) });
    const orphan = span(traceId, 'orphan', { parent_span_id: newSpanId(), start_time: at(50) });
    // Children may arrive before their parents, in other batches.
    await record(admin, runId, [grandchild, second]);
    await record(admin, runId, [orphan, first, root]);

    const tree = await bus.request(GetRunTrace, { scope: admin, run_id: runId });
    expect(shape(tree.spans)).toEqual([
      { name: 'run', children: [{ name: 'first', children: [{ name: 'grandchild', children: [] }] }, { name: 'second', children: [] }] },
      { name: 'orphan', children: [] },
    ]);
    expect(tree.spans[0].children[0]).toMatchObject({ parent_span_id: root.span_id, duration_ms: 10 });
  });

  it('is cut, and says so, to stay under the reply limit', async () => {
    const { admin } = newTenant();
    const runId = await newRun(admin);
    const traceId = newTraceId();
    const root = span(traceId, 'run', { start_time: at(0) });
    // 150 spans of about 7.5 KiB each: over the reply limit.
    const children = Array.from({ length: MAX_SPANS_PER_RUN - 1 }, (_, i) =>
      span(traceId, `child ${String(i).padStart(3, '0')}`, { parent_span_id: root.span_id, start_time: at(1 + i), attributes: { blob: 'z'.repeat(7500), i } }),
    );
    for (let from = 0; from < children.length; from += 50) await record(admin, runId, from === 0 ? [root, ...children.slice(0, 49)] : children.slice(from - 1, from + 49));

    const tree = await bus.request(GetRunTrace, { scope: admin, run_id: runId });
    expect(tree).toMatchObject({ span_count: MAX_SPANS_PER_RUN, truncated: true, trace_id: traceId });
    const bytes = Buffer.byteLength(JSON.stringify(tree));
    expect(bytes).toBeLessThan(RUN_TRACE_REPLY_MAX_BYTES);
    expect(bytes).toBeGreaterThan(RUN_TRACE_REPLY_MAX_BYTES - 16 * 1024);
    // The spans that came first, parents before children.
    const kept = tree.spans[0].children.map((node) => node.name);
    expect(kept).toEqual(children.slice(0, kept.length).map((node) => node.name));
    expect(kept.length).toBeGreaterThan(90);
    expect(kept.length).toBeLessThan(MAX_SPANS_PER_RUN - 1);
  });

  it('survives parent loops and chains deeper than a reply may nest', () => {
    const base = { runId: uuidv7(), traceId: newTraceId(), kind: 'internal' as const, attributes: {}, endTime: null, status: 'unset' as const, statusMessage: null };
    const [a, b] = [newSpanId(), newSpanId()];
    const loop = buildTraceTree(
      [
        { ...base, spanId: a, parentSpanId: b, name: 'a', startTime: new Date(T0) },
        { ...base, spanId: b, parentSpanId: a, name: 'b', startTime: new Date(T0 + 1) },
      ],
      1024 * 1024,
    );
    expect(shape(loop.roots)).toEqual([{ name: 'a', children: [{ name: 'b', children: [] }] }]);

    const ids = Array.from({ length: TRACE_TREE_MAX_DEPTH + 10 }, () => newSpanId());
    const chain = buildTraceTree(
      ids.map((spanId, i) => ({ ...base, spanId, parentSpanId: i === 0 ? null : ids[i - 1], name: `d${i}`, startTime: new Date(T0 + i) })),
      1024 * 1024,
    );
    expect(chain.truncated).toBe(true);
    let depth = 0;
    for (let level = chain.roots; level.length > 0; level = level[0].children) depth++;
    expect(depth).toBe(TRACE_TREE_MAX_DEPTH);
    // Nothing too deep came back as a root either.
    expect(chain.roots).toHaveLength(1);
  });
});
