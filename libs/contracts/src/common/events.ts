/**
 * The envelope of every event. `id` is a UUIDv7 and doubles as the JetStream `Nats-Msg-Id`, so a
 * relay that publishes twice is deduplicated. Consumers must be idempotent on `id` anyway.
 */
export interface EventEnvelope<D = unknown> {
  id: string;
  subject: string;
  tenant_id: string;
  /** The principal that owns the affected session, for member-scoped streams. */
  owner_id?: string;
  session_id?: string;
  run_id?: string;
  /**
   * The W3C trace (32 lowercase hex digits) of the request that caused this event — the one a client
   * sent or was answered in `traceparent` — or, when nothing traced caused it (a worker's claim, a
   * sweep), the trace of the run it is about. Absent when neither is known. The full `traceparent`
   * (with the writing span as parent) travels in the event's message headers.
   */
  trace_id?: string;
  occurred_at: string;
  data: D;
}
