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
  occurred_at: string;
  data: D;
}
