import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import type { EventEnvelope } from '@runyard/contracts';
import type { MessageHeaders } from './bus.js';

/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/) across the bus: the gateway accepts or
 * starts a trace per HTTP request, every bus request and every outbox event carries `traceparent`
 * (and `tracestate`), and every command handler and durable consumer runs within the trace it was
 * given, so one trace id links a request to everything it caused.
 *
 * Only ids are propagated here; spans are recorded elsewhere. A "span id" in this module is the id of
 * the unit of work in progress (an HTTP request, a handler call): each message it sends names a fresh
 * child span id as its parent id.
 */
export const TRACEPARENT_HEADER = 'traceparent';
export const TRACESTATE_HEADER = 'tracestate';

/** The trace a unit of work runs in. Ids are lowercase hex, as on the wire. */
export interface TraceContext {
  /** 32 hex digits, not all zeros. */
  traceId: string;
  /** 16 hex digits, not all zeros: this unit of work's own span. */
  spanId: string;
  /** 2 hex digits (bit 0: sampled). */
  flags: string;
  /** Vendor data passed along unchanged (validated and bounded). */
  traceState?: string;
}

/** A `traceparent` as received: the sender's span is `parentId`. */
export interface Traceparent {
  traceId: string;
  parentId: string;
  flags: string;
}

const TRACE_ID = /^[0-9a-f]{32}$/;
const SPAN_ID = /^[0-9a-f]{16}$/;
const HEX2 = /^[0-9a-f]{2}$/;
const ALL_ZEROS = /^0+$/;
/** A new trace is recorded (sampled): the worker library records its spans. */
const DEFAULT_FLAGS = '01';
/** The spec's limits for propagating tracestate: 32 list members; 512 characters is what every vendor must accept. */
const TRACESTATE_MAX_MEMBERS = 32;
const TRACESTATE_MAX_CHARS = 512;
/** One list member, `key=value`, in the spec's grammar (simple or multi-tenant key; printable value without , or =). */
const TRACESTATE_MEMBER = /^(?:[a-z][a-z0-9_\-*/]{0,255}|[a-z0-9][a-z0-9_\-*/]{0,240}@[a-z][a-z0-9_\-*/]{0,13})=[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$/;

/**
 * Parses a `traceparent` header; undefined when it is absent or invalid (the caller then starts a new
 * trace). Version 00 must be exactly `00-<32 hex>-<16 hex>-<2 hex>`; a higher version is read by its
 * first four fields as the spec asks (it may append more after a `-`); version ff is invalid.
 */
export function parseTraceparent(value: string | undefined): Traceparent | undefined {
  if (value === undefined) return undefined;
  const header = value.trim();
  if (header.length < 55) return undefined;
  const version = header.slice(0, 2);
  if (!HEX2.test(version) || version === 'ff') return undefined;
  if (version === '00' ? header.length !== 55 : header.length > 55 && header[55] !== '-') return undefined;
  const [, traceId, parentId, flags] = header.slice(0, 55).split('-');
  if (header[2] !== '-' || header[35] !== '-' || header[52] !== '-') return undefined;
  if (!TRACE_ID.test(traceId) || ALL_ZEROS.test(traceId)) return undefined;
  if (!SPAN_ID.test(parentId) || ALL_ZEROS.test(parentId)) return undefined;
  if (!HEX2.test(flags)) return undefined;
  // Of a later version's flags only those version 00 defines (sampled) are known to mean the same.
  return { traceId, parentId, flags: version === '00' ? flags : (Number.parseInt(flags, 16) & 0x01).toString(16).padStart(2, '0') };
}

/** The `traceparent` (version 00) naming `parentId` as the sender's span. */
export function formatTraceparent(traceId: string, parentId: string, flags: string = DEFAULT_FLAGS): string {
  return `00-${traceId}-${parentId}-${flags}`;
}

/** A `tracestate` worth passing on, or undefined: malformed or oversized ones are dropped, as the spec allows. */
export function sanitizeTracestate(value: string | undefined): string | undefined {
  if (value === undefined || value.length > TRACESTATE_MAX_CHARS * 2) return undefined;
  const members = value
    .split(',')
    .map((member) => member.trim())
    .filter((member) => member.length > 0);
  if (members.length === 0 || members.length > TRACESTATE_MAX_MEMBERS) return undefined;
  if (!members.every((member) => TRACESTATE_MEMBER.test(member))) return undefined;
  const joined = members.join(',');
  return joined.length <= TRACESTATE_MAX_CHARS ? joined : undefined;
}

export function newTraceId(): string {
  return nonZeroHex(16);
}

export function newSpanId(): string {
  return nonZeroHex(8);
}

function nonZeroHex(bytes: number): string {
  for (;;) {
    const hex = randomBytes(bytes).toString('hex');
    if (!ALL_ZEROS.test(hex)) return hex;
  }
}

/** A fresh trace (random ids), for work that no traced caller asked for. */
export function startTrace(): TraceContext {
  return { traceId: newTraceId(), spanId: newSpanId(), flags: DEFAULT_FLAGS };
}

/** A new span within the trace with `traceId` whose parent span is unknown (e.g. a run's stored trace). */
export function continueTraceId(traceId: string): TraceContext | undefined {
  return TRACE_ID.test(traceId) && !ALL_ZEROS.test(traceId) ? { traceId, spanId: newSpanId(), flags: DEFAULT_FLAGS } : undefined;
}

/**
 * The context for work received with `headers` (bus or HTTP; names matched case-insensitively): the
 * sender's trace with a new span of its own, or undefined without a valid `traceparent`.
 */
export function traceFromHeaders(headers: Readonly<Record<string, string | string[] | undefined>>): TraceContext | undefined {
  const parent = parseTraceparent(headerValue(headers, TRACEPARENT_HEADER));
  if (!parent) return undefined;
  const context: TraceContext = { traceId: parent.traceId, spanId: newSpanId(), flags: parent.flags };
  const traceState = sanitizeTracestate(headerValue(headers, TRACESTATE_HEADER));
  if (traceState !== undefined) context.traceState = traceState;
  return context;
}

/**
 * The context a consumer handles an event in: the trace of its headers (the span that wrote it as
 * parent), else the envelope's `trace_id`, else none.
 */
export function traceFromEvent(headers: MessageHeaders, envelope: Pick<EventEnvelope, 'trace_id'>): TraceContext | undefined {
  return traceFromHeaders(headers) ?? (typeof envelope.trace_id === 'string' ? continueTraceId(envelope.trace_id) : undefined);
}

/** `, trace_id <id>` for an event that carries one, for plain-text log lines. */
export function traceIdNote(envelope: Pick<EventEnvelope, 'trace_id'>): string {
  return typeof envelope.trace_id === 'string' ? `, trace_id ${envelope.trace_id}` : '';
}

/** A header's value; a repeated header (HTTP) is joined as a list, which is what tracestate means by it. */
function headerValue(headers: Readonly<Record<string, string | string[] | undefined>>, name: string): string | undefined {
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() !== name) continue;
    return Array.isArray(value) ? value.join(',') : value;
  }
  return undefined;
}

/** The `traceparent` naming this unit of work itself (e.g. on an HTTP response). */
export function traceparentOf(context: TraceContext): string {
  return formatTraceparent(context.traceId, context.spanId, context.flags);
}

/**
 * Headers for one message sent from within `context`: a `traceparent` with a fresh child span id as
 * its parent id (one per message), and the `tracestate`. Empty without a context.
 */
export function traceHeaders(context: TraceContext | undefined): MessageHeaders {
  if (!context) return {};
  const headers: MessageHeaders = { [TRACEPARENT_HEADER]: formatTraceparent(context.traceId, newSpanId(), context.flags) };
  if (context.traceState !== undefined) headers[TRACESTATE_HEADER] = context.traceState;
  return headers;
}

/** `headers` plus `context`'s trace headers, unless they already name a traceparent (the caller's choice wins). */
export function withTraceHeaders(headers: MessageHeaders | undefined, context: TraceContext | undefined): MessageHeaders {
  const given = { ...headers };
  if (Object.keys(given).some((name) => name.toLowerCase() === TRACEPARENT_HEADER)) return given;
  return { ...given, ...traceHeaders(context) };
}

const storage = new AsyncLocalStorage<TraceContext | undefined>();

/** The trace the current unit of work runs in (a gateway request, a command handler, a consumer), if any. */
export function traceContext(): TraceContext | undefined {
  return storage.getStore();
}

/**
 * Runs `work` within `context`, and everything it awaits or schedules. `undefined` runs it explicitly
 * outside any trace, so a handler never inherits its caller's context by accident (as it would in
 * standalone mode, where both share one process).
 */
export function runWithTraceContext<T>(context: TraceContext | undefined, work: () => T): T {
  return storage.run(context, work);
}
