import type { AnyEvent, DataOf, EventEnvelope } from '@runyard/contracts';
import { v7 as uuidv7 } from 'uuid';
import { traceContext } from '../trace-context.js';

/** What an event is about; `tenant_id` always, the others when they apply. */
export interface EventRefs {
  tenant_id: string;
  owner_id?: string;
  session_id?: string;
  run_id?: string;
  /** The trace to record when the event is written outside any trace (e.g. the run's own, on a claim). */
  trace_id?: string | null;
}

/**
 * A new envelope for `event`: a fresh UUIDv7 id (also its dedupe key), `occurred_at` now, and the
 * `trace_id` of the trace the current work runs in (else `refs.trace_id`).
 */
export function newEvent<E extends AnyEvent>(event: E, refs: EventRefs, data: DataOf<E>): EventEnvelope<DataOf<E>> {
  const envelope: EventEnvelope<DataOf<E>> = {
    id: uuidv7(),
    subject: event.subject,
    tenant_id: refs.tenant_id,
    occurred_at: new Date().toISOString(),
    data,
  };
  if (refs.owner_id !== undefined) envelope.owner_id = refs.owner_id;
  if (refs.session_id !== undefined) envelope.session_id = refs.session_id;
  if (refs.run_id !== undefined) envelope.run_id = refs.run_id;
  const traceId = traceContext()?.traceId ?? refs.trace_id ?? undefined;
  if (traceId !== undefined) envelope.trace_id = traceId;
  return envelope;
}
