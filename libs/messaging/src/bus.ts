import type { AnyCommand, EventEnvelope, PayloadOf, ReplyOf } from '@runyard/contracts';

/**
 * The one messaging port every service uses. Two adapters implement it with the same semantics —
 * `NatsBus` (NATS request/reply + JetStream) for distributed mode and `InProcessBus` for standalone
 * mode — and one contract suite (`bus.contract.ts`) proves it.
 *
 * Semantics both adapters keep:
 *  - request():  payloads cross as JSON (no shared object references); the handler's payload is
 *    validated against the command's payload class (whitelist, unknown fields refused) before the
 *    handler runs; a handler's DomainError comes back to the caller as the same DomainError; any other
 *    handler error comes back as DomainError(INTERNAL_ERROR) with a generic message. With no handler
 *    subscribed, or with the transport disconnected, request() rejects at once with
 *    DomainError(SERVICE_UNAVAILABLE); with no reply in time, DomainError(UPSTREAM_TIMEOUT).
 *  - handle():   handlers registered under the same queue group share the load (each request goes to
 *    exactly one of them); handlers in different groups each get every request... (groups are per
 *    service, so in practice one group per subject).
 *  - publish():  durable; resolves once the event log has stored it. Publishing the same event id twice
 *    stores it once (dedupe window, JetStream `Nats-Msg-Id`).
 *  - consume():  a durable named consumer over one filter subject; delivers each stored event at least
 *    once, in stream order; resumes after its last acknowledged event across restarts of the
 *    consumer; `ack()` settles, `nak(delayMs)` redelivers later, `term()` drops a poison message. A
 *    handler that throws is nak'ed with a delay; a handler that returns without settling is acked.
 *    At most `maxInFlight` events are unsettled at once (JetStream `max_ack_pending`), so with the
 *    default of 1 a nak'ed event is redelivered before any later one.
 */
export interface MessageHeaders {
  [name: string]: string;
}

export interface RequestOptions {
  /** Default 5000 ms. */
  timeoutMs?: number;
  headers?: MessageHeaders;
}

export interface HandlerContext {
  subject: string;
  headers: MessageHeaders;
}

export type CommandHandlerFn<C extends AnyCommand> = (payload: PayloadOf<C>, ctx: HandlerContext) => Promise<ReplyOf<C>>;

export interface Registration {
  /** Stops receiving; lets in-flight handlers finish. */
  stop(): Promise<void>;
}

export interface DeliveredEvent {
  envelope: EventEnvelope;
  /** Position in the event log (JetStream stream sequence); strictly increasing. */
  sequence: number;
  /** 1 on first delivery. */
  deliveryCount: number;
  /** The headers given to publish() (transport headers such as `Nats-Msg-Id` are left out). */
  headers: MessageHeaders;
  ack(): Promise<void>;
  nak(delayMs?: number): Promise<void>;
  term(): Promise<void>;
}

export interface ConsumeOptions {
  /** Durable consumer name; unique per consuming service + purpose, e.g. `gateway-audit`. */
  durable: string;
  /** One NATS subject filter, e.g. `sessions.evt.>` (one filter only: nats-server 2.9 compatibility). */
  filterSubject: string;
  /** Events handled concurrently; default 1 (strict order). */
  maxInFlight?: number;
  /** Redelivery delay when the handler throws; default 1000 ms. */
  retryDelayMs?: number;
  handler(event: DeliveredEvent): Promise<void>;
}

export interface BusStatus {
  connected: boolean;
  detail?: string;
}

export interface Bus {
  request<C extends AnyCommand>(command: C, payload: PayloadOf<C>, options?: RequestOptions): Promise<ReplyOf<C>>;
  handle<C extends AnyCommand>(command: C, queueGroup: string, handler: CommandHandlerFn<C>): Promise<Registration>;
  publish(envelope: EventEnvelope, headers?: MessageHeaders): Promise<void>;
  consume(options: ConsumeOptions): Promise<Registration>;
  status(): BusStatus;
  /** Drains subscriptions and closes the connection. */
  close(): Promise<void>;
}

export const BUS = Symbol('runyard.bus');

/** Readiness check: resolves while the bus is connected, throws with the reason otherwise. */
export function checkBusConnected(bus: Bus): Promise<void> {
  const status = bus.status();
  return status.connected ? Promise.resolve() : Promise.reject(new Error(status.detail ?? 'not connected'));
}
