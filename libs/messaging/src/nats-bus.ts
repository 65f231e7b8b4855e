import { Logger } from '@nestjs/common';
import {
  AckPolicy,
  type Consumer,
  type ConsumerMessages,
  DeliverPolicy,
  type JetStreamClient,
  JetStreamApiCodes,
  type JetStreamManager,
  type JsMsg,
  jetstream,
  jetstreamManager,
  type StreamConfig,
  type StreamInfo,
  StorageType,
} from '@nats-io/jetstream';
import {
  connect,
  errors,
  type Msg,
  type NatsConnection,
  nanos,
  type Subscription,
} from '@nats-io/transport-node';
import { type AnyCommand, DomainError, ErrorCode, type EventEnvelope, type PayloadOf, type ReplyOf } from '@runyard/contracts';
import type {
  Bus,
  BusStatus,
  CommandHandlerFn,
  ConsumeOptions,
  DeliveredEvent,
  EventLogInfo,
  MessageHeaders,
  Registration,
  RequestOptions,
  SubmitOptions,
  Tail,
  TailOptions,
  TailStart,
  WorkOptions,
} from './bus.js';
import { describeError, serveCommand, unwrapReply } from './command-reply.js';
import { assertMessageFits, DEFAULT_MAX_PAYLOAD_BYTES, messageBytes, payloadTooLarge } from './message-size.js';
import type { MessagingLogger } from './messaging-logger.js';
import { ensureDurable, fromNatsHeaders, isApiError, isMaxPayloadExceeded, parseJson, serveMessages, toNatsHeaders } from './nats-wire.js';
import { NatsWorkQueue } from './nats-work-queue.js';
import { assertEventSubject } from './subject-filter.js';
import { assertTailStart, startTail } from './tail-lifecycle.js';
import { runWithTraceContext, traceContext, traceFromEvent, traceIdNote, withTraceHeaders } from './trace-context.js';

export interface NatsBusOptions {
  /** e.g. `nats://127.0.0.1:4222`, or several for a cluster. */
  servers: string | string[];
  /** Connection name shown by the server (`sessions-7f9c`). */
  name: string;
  /**
   * Prefix of every wire subject (`<namespace>.<subject>`) and of the stream name, so deployments or
   * test files can share one NATS server. Letters, digits, `_` and `-` only; default `runyard`.
   * Always present: an un-prefixed stream (`*.evt.>`) would overlap every prefixed one
   * (`<ns>.*.evt.>`), which JetStream refuses.
   */
  namespace?: string;
  /** Default `<namespace>_events`. */
  streamName?: string;
  /** How long the stream keeps events; default 7 days. */
  maxAgeMs?: number;
  /** Most events the stream keeps; past it the oldest leave first (`max_msgs`); default unlimited. */
  maxMessages?: number;
  /** Stream replicas (JetStream cluster); default 1. */
  replicas?: number;
  logger?: MessagingLogger;
}

const DEFAULT_TIMEOUT_MS = 5000;
const PUBLISH_TIMEOUT_MS = 5000;
const DUPLICATE_WINDOW_MS = 2 * 60_000;
const NAME_PATTERN = /^[A-Za-z0-9_-]+$/;
const DEFAULT_NAMESPACE = 'runyard';
/**
 * What an ordered consumer pulls ahead of a tail's handler (the client-side buffer per tail), in
 * `max_payload`s: a tail whose reader stalls holds at most this much in the process. Four, so that the
 * client's refill request (made at 75 % of the budget, for the 25 % missing) can always take the largest
 * message: a request too small for the next message would stall the tail until a missed heartbeat.
 * The client also caps a pull at 100 messages.
 */
const TAIL_BUFFER_PAYLOADS = 4;
/** A consumer left behind by a tail whose cleanup could not reach the server goes away by itself. */
const PROBE_INACTIVE_MS = 60_000;

/**
 * `Bus` for distributed mode: core NATS request/reply with queue groups for commands, one JetStream
 * stream for events (publish with `msgID` dedupe, durable pull consumers with explicit ack, tails on
 * ordered consumers).
 * Connection status is tracked from `nc.status()` so that callers get SERVICE_UNAVAILABLE at once
 * during an outage instead of waiting for a timeout; the client reconnects forever by itself.
 */
export class NatsBus implements Bus {
  readonly namespace: string;
  readonly streamName: string;
  private readonly js: JetStreamClient;
  private connected = true;
  private detail: string | undefined;
  private closing = false;
  private readonly registrations = new Set<Registration>();
  /** Rejecters of requests awaiting a reply, failed at once when the connection drops. */
  private readonly pendingRequests = new Set<(error: DomainError) => void>();
  private readonly statusLoop: Promise<void>;
  private readonly workQueue: NatsWorkQueue;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    private readonly options: NatsBusOptions,
    private readonly logger: MessagingLogger,
  ) {
    this.js = jetstream(nc);
    this.namespace = options.namespace ?? DEFAULT_NAMESPACE;
    this.streamName = options.streamName ?? `${this.namespace}_events`;
    this.statusLoop = this.watchStatus();
    this.workQueue = new NatsWorkQueue({
      nc,
      js: this.js,
      jsm,
      namespace: this.namespace,
      replicas: options.replicas ?? 1,
      logger,
      isUsable: () => this.isUsable(),
      unavailable: () => this.unavailable(),
      maxPayload: () => this.maxPayload(),
      onConnectionLost: (reject) => {
        this.pendingRequests.add(reject);
        return () => this.pendingRequests.delete(reject);
      },
      track: (registration) => this.registrations.add(registration),
      untrack: (registration) => this.registrations.delete(registration),
    });
  }

  static async connect(options: NatsBusOptions): Promise<NatsBus> {
    if (options.namespace !== undefined && !NAME_PATTERN.test(options.namespace)) {
      throw new Error(`Invalid NATS namespace "${options.namespace}": use letters, digits, _ and - only`);
    }
    if (options.streamName !== undefined && !NAME_PATTERN.test(options.streamName)) {
      throw new Error(`Invalid stream name "${options.streamName}": use letters, digits, _ and - only`);
    }
    if (options.maxMessages !== undefined && (!Number.isSafeInteger(options.maxMessages) || options.maxMessages < 1)) {
      throw new Error(`Invalid maxMessages ${options.maxMessages}: use a positive integer`);
    }
    const logger = options.logger ?? new Logger(NatsBus.name);
    const nc = await connect({
      servers: options.servers,
      name: options.name,
      // A service that starts before NATS waits for it, and an outage never ends the process.
      waitOnFirstConnect: true,
      maxReconnectAttempts: -1,
      // The client would otherwise build an Error (with a stack trace) for every request up front,
      // just in case it times out: measurable CPU on the hot path (see BENCHMARKS.md).
      noAsyncTraces: true,
    });
    try {
      const bus = new NatsBus(nc, await jetstreamManager(nc), options, logger);
      await bus.ensureStream();
      await bus.workQueue.ensureStream();
      return bus;
    } catch (error) {
      await nc.close();
      throw error;
    }
  }

  /** Every stream this bus made: the event log and the work queue. */
  streamNames(): string[] {
    return [this.streamName, this.workQueue.streamName];
  }

  /** The subject on the wire for a contract subject. */
  private wire(subject: string): string {
    return `${this.namespace}.${subject}`;
  }

  private async watchStatus(): Promise<void> {
    for await (const status of this.nc.status()) {
      switch (status.type) {
        case 'disconnect':
          this.markDisconnected(`disconnected from ${status.server}`);
          this.logger.warn(`NATS connection lost (${status.server}); reconnecting`);
          break;
        case 'reconnect':
          this.connected = true;
          this.detail = undefined;
          this.logger.log(`NATS connection restored (${status.server})`);
          break;
        case 'close':
          this.markDisconnected('closed');
          break;
        case 'error':
          this.logger.warn(`NATS error: ${describeError(status.error)}`);
          break;
        case 'ldm':
          this.logger.warn(`NATS server ${status.server} is entering lame duck mode`);
          break;
        case 'slowConsumer':
          this.logger.warn(`NATS slow consumer on ${status.sub.getSubject()} (${status.pending} pending)`);
          break;
        case 'reconnecting':
        case 'staleConnection':
        case 'forceReconnect':
        case 'ping':
        case 'update':
          // Followed by 'disconnect'/'reconnect' when the connection really changes.
          break;
      }
    }
    this.markDisconnected('closed');
  }

  private markDisconnected(detail: string): void {
    this.connected = false;
    this.detail = detail;
    const unavailable = new DomainError(ErrorCode.SERVICE_UNAVAILABLE, `Messaging is unavailable (${detail})`);
    for (const reject of this.pendingRequests) reject(unavailable);
    this.pendingRequests.clear();
  }

  private isUsable(): boolean {
    return this.connected && !this.closing && !this.nc.isClosed() && !this.nc.isDraining();
  }

  /** The largest message the server takes (data plus headers): its `max_payload`. */
  private maxPayload(): number {
    return this.nc.info?.max_payload ?? DEFAULT_MAX_PAYLOAD_BYTES;
  }

  private unavailable(): DomainError {
    return new DomainError(ErrorCode.SERVICE_UNAVAILABLE, `Messaging is unavailable (${this.detail ?? (this.closing ? 'closing' : 'not connected')})`);
  }

  async request<C extends AnyCommand>(command: C, payload: PayloadOf<C>, options: RequestOptions = {}): Promise<ReplyOf<C>> {
    if (!this.isUsable()) throw this.unavailable();
    const wire = JSON.stringify(payload ?? null);
    const headers = withTraceHeaders(options.headers, traceContext());
    assertMessageFits(`The request on ${command.subject}`, wire, headers, this.maxPayload());
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    let rejectOnLoss!: (error: DomainError) => void;
    const connectionLost = new Promise<never>((_, reject) => (rejectOnLoss = reject));
    this.pendingRequests.add(rejectOnLoss);
    try {
      const reply = await Promise.race([
        this.nc.request(this.wire(command.subject), wire, {
          timeout: timeoutMs,
          headers: toNatsHeaders(headers),
        }),
        connectionLost,
      ]);
      return unwrapReply<ReplyOf<C>>(parseJson(reply.data), command.subject);
    } catch (error) {
      throw this.requestError(error, command.subject, timeoutMs);
    } finally {
      this.pendingRequests.delete(rejectOnLoss);
    }
  }

  private requestError(error: unknown, subject: string, timeoutMs: number): unknown {
    if (error instanceof DomainError) return error;
    if (error instanceof errors.TimeoutError) {
      return new DomainError(ErrorCode.UPSTREAM_TIMEOUT, `No reply on ${subject} within ${timeoutMs} ms`);
    }
    if (isNoResponders(error)) return new DomainError(ErrorCode.SERVICE_UNAVAILABLE, `No handler for ${subject}`);
    if (isMaxPayloadExceeded(error)) return new DomainError(ErrorCode.PAYLOAD_TOO_LARGE, `The request on ${subject} exceeds the ${this.maxPayload()}-byte message limit`);
    if (error instanceof errors.InvalidSubjectError || error instanceof errors.InvalidArgumentError) return error;
    this.logger.warn(`NATS request on ${subject} failed: ${describeError(error)}`);
    return new DomainError(ErrorCode.SERVICE_UNAVAILABLE, `Messaging is unavailable (${describeError(error)})`);
  }

  async handle<C extends AnyCommand>(command: C, queueGroup: string, handler: CommandHandlerFn<C>): Promise<Registration> {
    if (this.closing) throw this.unavailable();
    const inFlight = new Set<Promise<void>>();
    const serve = async (msg: Msg): Promise<void> => {
      const plain = parseJson(msg.data);
      const reply =
        plain === undefined
          ? JSON.stringify({ ok: false, error: { code: ErrorCode.VALIDATION_FAILED, message: 'Payload is not valid JSON' } })
          : await serveCommand(
              command,
              handler as CommandHandlerFn<AnyCommand>,
              plain,
              { subject: command.subject, headers: fromNatsHeaders(msg.headers) },
              this.logger,
              this.maxPayload(),
            );
      if (!msg.reply) return;
      try {
        msg.respond(reply);
      } catch (error) {
        this.logger.warn(`Could not reply on ${command.subject}: ${describeError(error)}`);
      }
    };
    const subscription: Subscription = this.nc.subscribe(this.wire(command.subject), {
      queue: queueGroup,
      callback: (error, msg) => {
        if (error) {
          this.logger.warn(`Subscription to ${command.subject} failed: ${describeError(error)}`);
          return;
        }
        const served = serve(msg);
        inFlight.add(served);
        void served.finally(() => inFlight.delete(served));
      },
    });
    // Resolve only once the server knows the subscription, so a request right after finds it.
    if (this.isUsable()) await this.nc.flush();

    let stopped = false;
    const registration: Registration = {
      stop: async () => {
        if (stopped) return;
        stopped = true;
        this.registrations.delete(registration);
        await this.unsubscribe(subscription);
        await Promise.allSettled([...inFlight]);
      },
    };
    this.registrations.add(registration);
    return registration;
  }

  private async unsubscribe(subscription: Subscription): Promise<void> {
    if (subscription.isClosed()) return;
    try {
      // drain() waits for the server; while disconnected that could hang, so just drop the interest.
      if (this.connected && !this.nc.isClosed()) await subscription.drain();
      else subscription.unsubscribe();
    } catch (error) {
      this.logger.warn(`Unsubscribe failed: ${describeError(error)}`);
    }
  }

  submit<C extends AnyCommand>(command: C, payload: PayloadOf<C>, options: SubmitOptions): Promise<ReplyOf<C>> {
    return this.workQueue.submit(command, payload, options);
  }

  work<C extends AnyCommand>(command: C, options: WorkOptions<C>): Promise<Registration> {
    return this.workQueue.work(command, options);
  }

  async publish(envelope: EventEnvelope, headers: MessageHeaders = {}): Promise<void> {
    assertEventSubject(envelope.subject);
    if (!this.isUsable()) throw this.unavailable();
    const json = JSON.stringify(envelope);
    assertMessageFits(`The ${envelope.subject} event`, json, headers, this.maxPayload());
    try {
      await this.js.publish(this.wire(envelope.subject), json, {
        msgID: envelope.id,
        headers: toNatsHeaders(headers),
        timeout: PUBLISH_TIMEOUT_MS,
      });
    } catch (error) {
      // The check above leaves out the `Nats-Msg-Id` header the client adds.
      if (isMaxPayloadExceeded(error)) throw payloadTooLarge(`The ${envelope.subject} event`, messageBytes(json, headers), this.maxPayload());
      throw new DomainError(ErrorCode.SERVICE_UNAVAILABLE, `Publishing ${envelope.subject} failed: ${describeError(error)}`);
    }
  }

  async consume(options: ConsumeOptions): Promise<Registration> {
    if (!this.isUsable()) throw this.unavailable();
    const maxInFlight = Math.max(1, options.maxInFlight ?? 1);
    await ensureDurable(this.jsm, this.streamName, options.durable, this.wire(options.filterSubject), maxInFlight);
    const consumer = await this.js.consumers.get(this.streamName, options.durable);
    const messages: ConsumerMessages = await consumer.consume({ max_messages: maxInFlight });

    const serving = serveMessages(messages, maxInFlight, (msg) => this.deliver(msg, options), (error) => {
      this.logger.error(`Consumer ${options.durable} stopped: ${describeError(error)}`);
    });
    let stopped = false;
    const registration: Registration = {
      stop: async () => {
        if (stopped) return;
        stopped = true;
        this.registrations.delete(registration);
        // The durable stays on the server: the next consume() with this name resumes after its last ack.
        await serving.stop();
      },
    };
    this.registrations.add(registration);
    return registration;
  }

  private async deliver(msg: JsMsg, options: ConsumeOptions): Promise<void> {
    const envelope = parseJson(msg.data);
    if (!isEnvelope(envelope)) {
      this.logger.warn(`Consumer ${options.durable}: dropping unparseable message at sequence ${msg.seq}`);
      msg.term('unparseable');
      return;
    }
    let settled = false;
    // nak/term are fire-and-forget on the wire; an error (connection closed) still rejects.
    const settleWith = (send: () => void): Promise<void> =>
      new Promise((resolve) => {
        if (!settled) {
          settled = true;
          send();
        }
        resolve();
      });
    const event: DeliveredEvent = {
      envelope,
      sequence: msg.info.streamSequence,
      deliveryCount: msg.info.deliveryCount,
      headers: fromNatsHeaders(msg.headers, true),
      ack: async () => {
        if (settled) return;
        settled = true;
        // Wait for the server to record it, so a restart resumes after this event.
        await msg.ackAck();
      },
      nak: (delayMs?: number) =>
        settleWith(() => {
          msg.nak(delayMs);
        }),
      term: () => settleWith(() => msg.term()),
    };
    try {
      await runWithTraceContext(traceFromEvent(event.headers, envelope), () => options.handler(event));
      await event.ack();
    } catch (error) {
      this.logger.warn(`Consumer ${options.durable} failed on event ${envelope.id} (${envelope.subject}${traceIdNote(envelope)}): ${describeError(error)}`);
      await event.nak(options.retryDelayMs ?? 1000);
    }
  }

  async tail(options: TailOptions): Promise<Tail> {
    assertTailStart(options.start);
    if (!this.isUsable()) throw this.unavailable();
    const filterSubject = this.wire(options.filterSubject);
    let epoch: string;
    let startSequence: number;
    let consumer: Consumer;
    let messages: ConsumerMessages;
    try {
      const info = await this.jsm.streams.info(this.streamName);
      epoch = epochOf(info);
      startSequence = await this.startSequence(options.start, info, filterSubject);
      // Always a start sequence, never deliver_policy new/by_start_time: when the client recreates an
      // ordered consumer (after a reconnect) before its first message, it restarts at opt_start_seq, which
      // for those policies is unset — it would replay the stream from sequence 1.
      consumer = await this.js.consumers.get(this.streamName, { filter_subjects: filterSubject, opt_start_seq: startSequence });
      // A byte budget, not a message count: 100 messages of up to 1 MiB each would let one stalled client
      // make the process hold ~100 MiB.
      messages = await consumer.consume({ max_bytes: TAIL_BUFFER_PAYLOADS * this.maxPayload() });
    } catch (error) {
      throw new DomainError(ErrorCode.SERVICE_UNAVAILABLE, `Tailing ${options.filterSubject} failed: ${describeError(error)}`);
    }
    const notBefore = options.start.kind === 'time' ? options.start.time.getTime() : undefined;

    const tail = startTail(
      {
        run: async (stopping) => {
          // The client recreates the ordered consumer by itself; if the stream itself was recreated, its
          // sequences start over and mean nothing to this tail's reader, so the tail ends instead.
          let verified: Promise<void> = Promise.resolve();
          let failure: Error | undefined;
          const watch = (async () => {
            for await (const note of messages.status()) {
              if (note.type === 'ordered_consumer_recreated' || note.type === 'consumer_deleted' || note.type === 'stream_not_found') {
                verified = verified
                  .then(() => this.assertEpoch(epoch))
                  .catch((error: unknown) => {
                    failure ??= error instanceof Error ? error : new Error(describeError(error));
                    void messages.close();
                  });
              }
            }
          })().catch((error: unknown) => {
            this.logger.warn(`Tail on ${options.filterSubject}: status watch failed: ${describeError(error)}`);
          });
          try {
            for await (const msg of messages) {
              // The notice comes before the recreated consumer's first message: check before delivering it.
              await verified;
              if (stopping() || failure !== undefined) break;
              // The server clamps a start past the log's end to it, and a time start only picks a sequence:
              // keep to the exact start here (also a guard should the client ever restart its consumer too early).
              if (msg.seq < startSequence || (notBefore !== undefined && msg.info.timestampNanos / 1e6 < notBefore)) continue;
              const envelope = parseJson(msg.data);
              if (!isEnvelope(envelope)) {
                this.logger.warn(`Tail on ${options.filterSubject}: skipping an unparseable message at sequence ${msg.seq}`);
                continue;
              }
              // One at a time: the next message waits for this handler (backpressure).
              await options.handler({ envelope, sequence: msg.seq });
            }
          } finally {
            await messages.close();
            await watch;
          }
          if (failure !== undefined) throw failure;
        },
        interrupt: () => void messages.close(),
        cleanup: async () => {
          this.registrations.delete(tail);
          // The client leaves an ordered consumer to expire on the server (inactive_threshold); remove it now.
          if (this.connected && !this.nc.isClosed()) await consumer.delete().catch(() => false);
        },
      },
      options.filterSubject,
      this.logger,
    );
    this.registrations.add(tail);
    return tail;
  }

  /** The first stream sequence a tail may deliver. */
  private async startSequence(start: TailStart, info: StreamInfo, filterSubject: string): Promise<number> {
    switch (start.kind) {
      case 'new':
        return info.state.last_seq + 1;
      case 'after':
        return start.sequence + 1;
      case 'time': {
        // The server knows which sequence a time maps to: ask it with a throwaway consumer.
        const probe = await this.jsm.consumers.add(this.streamName, {
          deliver_policy: DeliverPolicy.StartTime,
          opt_start_time: start.time.toISOString(),
          ack_policy: AckPolicy.None,
          filter_subject: filterSubject,
          mem_storage: true,
          num_replicas: 1,
          inactive_threshold: nanos(PROBE_INACTIVE_MS),
        });
        await this.jsm.consumers.delete(this.streamName, probe.name).catch(() => false);
        return probe.delivered.stream_seq + 1;
      }
    }
  }

  private async assertEpoch(epoch: string): Promise<void> {
    let info: StreamInfo;
    try {
      info = await this.jsm.streams.info(this.streamName);
    } catch (error) {
      if (isApiError(error, JetStreamApiCodes.StreamNotFound)) throw new Error(`The event log ${this.streamName} was deleted`);
      throw error;
    }
    if (epochOf(info) !== epoch) throw new Error(`The event log ${this.streamName} was recreated (a new epoch)`);
  }

  async eventLog(): Promise<EventLogInfo> {
    if (!this.isUsable()) throw this.unavailable();
    let info: StreamInfo;
    try {
      info = await this.jsm.streams.info(this.streamName);
    } catch (error) {
      throw new DomainError(ErrorCode.SERVICE_UNAVAILABLE, `Reading the event log failed: ${describeError(error)}`);
    }
    const { first_seq: first, last_seq: last, messages } = info.state;
    return { epoch: epochOf(info), firstSequence: messages === 0 ? last + 1 : first, lastSequence: last };
  }

  /** Creates the event stream, or updates the settings that may change on an existing one. */
  private async ensureStream(): Promise<void> {
    const settings: Partial<StreamConfig> = {
      subjects: [this.wire('*.evt.>')],
      max_age: nanos(this.options.maxAgeMs ?? 7 * 24 * 3_600_000),
      duplicate_window: nanos(DUPLICATE_WINDOW_MS),
      max_msgs: this.options.maxMessages ?? -1,
    };
    try {
      const info = await this.jsm.streams.info(this.streamName);
      await this.jsm.streams.update(this.streamName, { ...info.config, ...settings });
    } catch (error) {
      if (!isApiError(error, JetStreamApiCodes.StreamNotFound)) throw error;
      await this.jsm.streams.add({
        ...settings,
        name: this.streamName,
        storage: StorageType.File,
        num_replicas: this.options.replicas ?? 1,
      });
    }
  }

  status(): BusStatus {
    return this.isUsable() ? { connected: true } : { connected: false, detail: this.detail ?? (this.closing ? 'closing' : 'not connected') };
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    await Promise.allSettled([...this.registrations].map((r) => r.stop()));
    this.workQueue.close();
    if (!this.nc.isClosed()) {
      // drain() flushes through the server; while disconnected, close at once instead.
      if (this.connected) await this.nc.drain().catch(() => this.nc.close());
      else await this.nc.close();
    }
    await this.statusLoop;
  }
}

/**
 * The stream's creation time, digits only (`20250301120000123456789`): a recreated stream gets a new
 * one, a server restart keeps it.
 */
function epochOf(info: StreamInfo): string {
  return info.created.replace(/\D/g, '');
}

function isEnvelope(value: unknown): value is EventEnvelope {
  if (value === null || typeof value !== 'object') return false;
  const candidate = value as { id?: unknown; subject?: unknown };
  return typeof candidate.id === 'string' && typeof candidate.subject === 'string';
}

function isNoResponders(error: unknown): boolean {
  if (error instanceof errors.NoRespondersError) return true;
  return error instanceof errors.RequestError && error.isNoResponders();
}

