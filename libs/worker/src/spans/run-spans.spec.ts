import { describe, expect, it } from '@jest/globals';
import type { TraceSpanInput } from '@runyard/contracts';
import { silentLogger } from '../worker-logger.js';
import { RunSpans, type RunSpansSettings } from './run-spans.js';

// The root span of a pass and its parent: the span of the request that created the run, when the
// run has a trace and that span id is one the recorder takes.
const RUN_ID = '019a0000-0000-7000-8000-000000000001';
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';

async function spansOf(settings: Pick<RunSpansSettings, 'traceId' | 'parentSpanId'>): Promise<TraceSpanInput[]> {
  const sent: TraceSpanInput[] = [];
  const spans = new RunSpans({
    ...settings,
    send: (payload) => {
      sent.push(...payload.spans);
      return Promise.resolve({ recorded: payload.spans.length, refused: 0, limit_reached: false });
    },
    tenantId: '019a0000-0000-7000-8000-0000000000a1',
    runId: RUN_ID,
    logger: silentLogger,
  });
  spans.startRun({});
  await spans.span('tool', 'tool_call', () => Promise.resolve());
  await spans.endRun({ status: 'ok' });
  return sent;
}

describe('the root span of a run', () => {
  it('hangs under the span of the request that created the run; the spans under it keep their own parents', async () => {
    const sent = await spansOf({ traceId: TRACE_ID, parentSpanId: '00f067aa0ba902b7' });
    const root = sent.find((span) => span.name === 'run')!;
    expect(root).toMatchObject({ trace_id: TRACE_ID, parent_span_id: '00f067aa0ba902b7' });
    expect(sent.find((span) => span.name === 'tool')).toMatchObject({ trace_id: TRACE_ID, parent_span_id: root.span_id });
  });

  it('has no parent without one, without a trace of the run’s own, or with one the recorder would refuse', async () => {
    const cases: Array<Pick<RunSpansSettings, 'traceId' | 'parentSpanId'>> = [
      { traceId: TRACE_ID, parentSpanId: undefined },
      { traceId: undefined, parentSpanId: '00f067aa0ba902b7' },
      { traceId: TRACE_ID, parentSpanId: '0000000000000000' },
      { traceId: TRACE_ID, parentSpanId: '00F067AA0BA902B7' },
      { traceId: TRACE_ID, parentSpanId: '00f067aa0ba902' },
    ];
    const parents: unknown[] = [];
    for (const settings of cases) {
      const root = (await spansOf(settings)).find((span) => span.name === 'run');
      parents.push(root === undefined ? 'no root' : (root.parent_span_id ?? 'none'));
    }
    expect(parents).toEqual(cases.map(() => 'none'));
  });
});
