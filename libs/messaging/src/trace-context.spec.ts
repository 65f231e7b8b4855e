import { describe, expect, it } from '@jest/globals';
import { defineEvent } from '@runyard/contracts';
import { IsInt } from 'class-validator';
import type { DataSource, EntityManager } from 'typeorm';
import { newEvent } from './outbox/new-event.js';
import type { OutboxRelay } from './outbox/outbox-relay.service.js';
import { TransactionalOutbox } from './outbox/transactional-outbox.service.js';
import {
  formatTraceparent,
  newSpanId,
  newTraceId,
  parseTraceparent,
  runWithTraceContext,
  sanitizeTracestate,
  startTrace,
  traceContext,
  traceFromHeaders,
  traceHeaders,
  traceparentOf,
  withTraceHeaders,
} from './trace-context.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';
const VALID = `00-${TRACE}-${SPAN}-01`;

describe('parseTraceparent', () => {
  it('reads a version 00 traceparent', () => {
    expect(parseTraceparent(VALID)).toEqual({ traceId: TRACE, parentId: SPAN, flags: '01' });
    expect(parseTraceparent(`00-${TRACE}-${SPAN}-00`)?.flags).toBe('00');
    expect(parseTraceparent(` ${VALID} `)?.traceId).toBe(TRACE);
  });

  it.each([
    ['absent', undefined],
    ['empty', ''],
    ['short trace id', `00-${TRACE.slice(1)}-${SPAN}-01`],
    ['uppercase hex', `00-${TRACE.toUpperCase()}-${SPAN}-01`],
    ['all-zero trace id', `00-${'0'.repeat(32)}-${SPAN}-01`],
    ['all-zero parent id', `00-${TRACE}-${'0'.repeat(16)}-01`],
    ['non-hex flags', `00-${TRACE}-${SPAN}-0g`],
    ['version ff', `ff-${TRACE}-${SPAN}-01`],
    ['non-hex version', `0x-${TRACE}-${SPAN}-01`],
    ['version 00 with more fields', `${VALID}-extra`],
    ['wrong separators', `00_${TRACE}_${SPAN}_01`],
    ['a list of two', `${VALID},${VALID}`],
  ])('refuses %s', (_case, value) => {
    expect(parseTraceparent(value)).toBeUndefined();
  });

  it('reads the first four fields of a later version, keeping only the flags version 00 defines', () => {
    expect(parseTraceparent(`01-${TRACE}-${SPAN}-03-what-comes-next`)).toEqual({ traceId: TRACE, parentId: SPAN, flags: '01' });
    expect(parseTraceparent(`01-${TRACE}-${SPAN}-02`)).toEqual({ traceId: TRACE, parentId: SPAN, flags: '00' });
    expect(parseTraceparent(`01-${TRACE}-${SPAN}-01x`)).toBeUndefined();
  });

  it('round-trips what formatTraceparent writes', () => {
    const traceId = newTraceId();
    const spanId = newSpanId();
    expect(parseTraceparent(formatTraceparent(traceId, spanId))).toEqual({ traceId, parentId: spanId, flags: '01' });
  });
});

describe('ids and new traces', () => {
  it('makes random lowercase-hex ids of the right length', () => {
    const traces = new Set(Array.from({ length: 100 }, newTraceId));
    expect(traces.size).toBe(100);
    for (const id of traces) expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(newSpanId()).toMatch(/^[0-9a-f]{16}$/);
    const trace = startTrace();
    expect(parseTraceparent(traceparentOf(trace))).toEqual({ traceId: trace.traceId, parentId: trace.spanId, flags: '01' });
  });
});

describe('sanitizeTracestate', () => {
  it('keeps a well-formed list, trimmed', () => {
    expect(sanitizeTracestate('rojo=00f067aa0ba902b7, congo=t61rcWkgMzE')).toBe('rojo=00f067aa0ba902b7,congo=t61rcWkgMzE');
    expect(sanitizeTracestate('tenant@vendor=v')).toBe('tenant@vendor=v');
  });

  it('drops a malformed or oversized one', () => {
    expect(sanitizeTracestate(undefined)).toBeUndefined();
    expect(sanitizeTracestate('')).toBeUndefined();
    expect(sanitizeTracestate('Upper=1')).toBeUndefined();
    expect(sanitizeTracestate('novalue')).toBeUndefined();
    expect(sanitizeTracestate('k=bad\nvalue')).toBeUndefined();
    expect(sanitizeTracestate(Array.from({ length: 33 }, (_, i) => `k${i}=v`).join(','))).toBeUndefined();
    expect(sanitizeTracestate(`k=${'v'.repeat(250)},l=${'v'.repeat(250)},m=${'v'.repeat(20)}`)).toBeUndefined();
  });
});

describe('traceFromHeaders and traceHeaders', () => {
  it('continues the sender’s trace with a new span, keeping a valid tracestate; none without a valid traceparent', () => {
    const context = traceFromHeaders({ TraceParent: VALID, tracestate: ['a=1', 'b=2'] });
    expect(context).toMatchObject({ traceId: TRACE, flags: '01', traceState: 'a=1,b=2' });
    expect(context?.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(context?.spanId).not.toBe(SPAN);
    expect(traceFromHeaders({ traceparent: VALID, tracestate: 'BAD' })).not.toHaveProperty('traceState');
    expect(traceFromHeaders({ traceparent: 'garbage', tracestate: 'a=1' })).toBeUndefined();
    expect(traceFromHeaders({})).toBeUndefined();
  });

  it('names a new child span in each message sent, and leaves a traceparent the caller set alone', () => {
    const context = { ...startTrace(), traceState: 'a=1' };
    const first = traceHeaders(context);
    const second = traceHeaders(context);
    expect(parseTraceparent(first.traceparent)?.traceId).toBe(context.traceId);
    expect(first.tracestate).toBe('a=1');
    expect(new Set([context.spanId, parseTraceparent(first.traceparent)?.parentId, parseTraceparent(second.traceparent)?.parentId]).size).toBe(3);
    expect(traceHeaders(undefined)).toEqual({});
    expect(withTraceHeaders({ 'x-request-id': 'r' }, context)).toMatchObject({ 'x-request-id': 'r', traceparent: expect.stringContaining(context.traceId) });
    expect(withTraceHeaders({ Traceparent: VALID }, context)).toEqual({ Traceparent: VALID });
  });
});

describe('runWithTraceContext', () => {
  it('gives the work and everything it awaits or schedules the context, and nothing outside it', async () => {
    const context = startTrace();
    const seen = await runWithTraceContext(context, async () => {
      await new Promise((resolve) => setImmediate(resolve));
      // The subject here, not a wait: a timer callback the work schedules runs within its context.
      const later = await new Promise<string | undefined>((resolve) => setTimeout(() => resolve(traceContext()?.traceId), 0));
      const inner = runWithTraceContext(undefined, () => traceContext());
      return { later, inner };
    });
    expect(seen).toEqual({ later: context.traceId, inner: undefined });
    expect(traceContext()).toBeUndefined();
  });
});

class Thing {
  @IsInt()
  n!: number;
}
const ThingHappened = defineEvent('unit.evt.thing.happened.v1', Thing);
const TENANT = '0190a5f1-0000-7000-8000-000000000003';

describe('events in a trace', () => {
  it('stamps the current trace on a new event, else the trace its refs name', () => {
    const context = startTrace();
    const runTrace = newTraceId();
    expect(runWithTraceContext(context, () => newEvent(ThingHappened, { tenant_id: TENANT, trace_id: runTrace }, { n: 1 })).trace_id).toBe(context.traceId);
    expect(newEvent(ThingHappened, { tenant_id: TENANT, trace_id: runTrace }, { n: 1 }).trace_id).toBe(runTrace);
    expect(newEvent(ThingHappened, { tenant_id: TENANT, trace_id: null }, { n: 1 })).not.toHaveProperty('trace_id');
  });

  it('stores each event with a traceparent of its trace (and the tracestate, when it is the current trace), unless given one', async () => {
    const inserted: unknown[][] = [];
    const tx = { query: (_sql: string, values: unknown[]) => Promise.resolve(void inserted.push(values)) } as unknown as EntityManager;
    const dataSource = { transaction: <T>(work: (manager: EntityManager) => Promise<T>) => work(tx) } as unknown as DataSource;
    const relay = { nudge: () => undefined } as unknown as OutboxRelay;
    const outbox = new TransactionalOutbox(dataSource, relay);
    const context = { ...startTrace(), traceState: 'a=1' };
    const runTrace = newTraceId();

    await runWithTraceContext(context, () =>
      outbox.run((_tx, events) => {
        events.add(newEvent(ThingHappened, { tenant_id: TENANT }, { n: 1 }));
        events.add({ ...newEvent(ThingHappened, { tenant_id: TENANT }, { n: 2 }), trace_id: runTrace });
        events.add(newEvent(ThingHappened, { tenant_id: TENANT }, { n: 3 }), { traceparent: VALID });
        return Promise.resolve();
      }),
    );
    await outbox.run((_tx, events) => Promise.resolve(events.add(newEvent(ThingHappened, { tenant_id: TENANT }, { n: 4 }))));

    const headers = inserted.flat().filter((_, index) => index % 5 === 4).map((json) => JSON.parse(json as string) as Record<string, string>);
    expect(parseTraceparent(headers[0].traceparent)?.traceId).toBe(context.traceId);
    expect(headers[0].tracestate).toBe('a=1');
    expect(parseTraceparent(headers[1].traceparent)?.traceId).toBe(runTrace);
    expect(headers[1]).not.toHaveProperty('tracestate');
    expect(headers[2]).toEqual({ traceparent: VALID });
    expect(headers[3]).toEqual({});
  });
});
