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
 *  - tail():     reads the log from a start point and follows it, every matching event exactly once
 *    and in log order, with no server-side state beyond the tail's life (JetStream ordered consumer).
 *  - eventLog(): the log's epoch and the range of sequences it still retains (for `gap` detection).
 *  - submit():   stores a command in a durable work queue (JetStream work-queue stream; resolves the
 *    store first), then waits for the reply the worker that handled it sends once its handler finished.
 *    A command is handled at least once, by one worker: it stays queued while no worker runs, and is
 *    redelivered after a worker died or a transient failure (an unexpected error, SERVICE_UNAVAILABLE,
 *    UPSTREAM_TIMEOUT: not replied, retried later with backoff; after 10 deliveries, INTERNAL_ERROR).
 *    Any other DomainError is the final reply. So work handlers must be idempotent. Past `timeoutMs`,
 *    UPSTREAM_TIMEOUT, and the command stays queued: a submit of the same command and `messageId` from
 *    the same bus while it is queued or being handled joins it (one handling; every submitter waiting
 *    gets its reply); after it was handled, it is queued again. After a DomainError reply, submit a
 *    retry under a new `messageId`: the same one would be the handled command again.
 *  - work():     a durable consumer of one command's work queue; workers under the same durable name
 *    share it (each command to one of them); `maxInFlight` commands at once per worker. One durable
 *    per command: JetStream refuses a second consumer of a work queue's subject, so a rename means
 *    deleting the old durable first.
 *  - size:       requests and published events over the transport's message limit (NATS
 *    `max_payload`; InProcessBus `maxPayloadBytes`, default 1 MiB) reject with PAYLOAD_TOO_LARGE
 *    before anything is sent; a reply over it reaches the caller as PAYLOAD_TOO_LARGE.
 */
export interface MessageHeaders {
  [name: string]: string;
}

export interface RequestOptions {
  /** Default 5000 ms. */
  timeoutMs?: number;
  headers?: MessageHeaders;
}

export interface SubmitOptions extends RequestOptions {
  /**
   * Names the command in the work queue (JetStream `Nats-Msg-Id`): unique per command, repeated by a
   * retry of the same one. A submitter's waiting is matched to the reply by it.
   */
  messageId: string;
}

export interface WorkOptions<C extends AnyCommand> {
  /** Durable consumer name, e.g. `transcripts-log-ingest`; one per command. */
  durable: string;
  /** Commands handled at once by this worker; default 16. */
  maxInFlight?: number;
  handler: CommandHandlerFn<C>;
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

/** An event as stored in the event log, read by a tail (no acknowledgement: tails keep no state). */
export interface LoggedEvent {
  envelope: EventEnvelope;
  /** Position in the event log (JetStream stream sequence); strictly increasing, gaps where other subjects are. */
  sequence: number;
}

/** Where a tail starts. */
export type TailStart =
  /** Only events stored after the tail started. */
  | { kind: 'new' }
  /** Every event with a sequence greater than `sequence` (resume after the last one seen). */
  | { kind: 'after'; sequence: number }
  /** Every event stored at or after `time`. */
  | { kind: 'time'; time: Date };

export interface TailOptions {
  /** One NATS subject filter, e.g. `*.evt.>`. */
  filterSubject: string;
  start: TailStart;
  /**
   * Called once per event, in log order; the next event waits until the returned promise settles
   * (backpressure for slow readers). A handler that throws ends the tail (see `Tail.ended`).
   */
  handler(event: LoggedEvent): Promise<void>;
}

/**
 * A running tail of the event log. stop() lets a handler call in progress finish and starts no other;
 * it never rejects. A tail also ends (rejected) when the log it reads is deleted or recreated.
 */
export interface Tail extends Registration {
  /** Settles when the tail stops: resolved after stop(), rejected when the handler or the transport failed. */
  readonly ended: Promise<void>;
}

/**
 * The retained part of the event log. `epoch` changes when the log is recreated (a new stream, a
 * standalone restart), so sequences of another epoch mean nothing here. Empty: first = last + 1.
 */
export interface EventLogInfo {
  epoch: string;
  firstSequence: number;
  lastSequence: number;
}

export interface BusStatus {
  connected: boolean;
  detail?: string;
}

export interface Bus {
  request<C extends AnyCommand>(command: C, payload: PayloadOf<C>, options?: RequestOptions): Promise<ReplyOf<C>>;
  handle<C extends AnyCommand>(command: C, queueGroup: string, handler: CommandHandlerFn<C>): Promise<Registration>;
  /** Through the durable work queue: resolves with the reply, sent after the handler finished (see above). */
  submit<C extends AnyCommand>(command: C, payload: PayloadOf<C>, options: SubmitOptions): Promise<ReplyOf<C>>;
  work<C extends AnyCommand>(command: C, options: WorkOptions<C>): Promise<Registration>;
  publish(envelope: EventEnvelope, headers?: MessageHeaders): Promise<void>;
  consume(options: ConsumeOptions): Promise<Registration>;
  /**
   * Reads the event log from `start` and keeps following it, in order, each event once, without a
   * durable consumer (for live streams to clients and for workers watching their runs). Starting
   * `after` a sequence older than the retained log begins at the first retained event.
   */
  tail(options: TailOptions): Promise<Tail>;
  eventLog(): Promise<EventLogInfo>;
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
