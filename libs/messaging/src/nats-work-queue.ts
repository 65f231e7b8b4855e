import {
  DiscardPolicy,
  type ConsumerMessages,
  type JetStreamClient,
  JetStreamApiCodes,
  type JetStreamManager,
  type JsMsg,
  RetentionPolicy,
  type StreamConfig,
  StorageType,
} from '@nats-io/jetstream';
import { createInbox, type NatsConnection, nanos, type Subscription } from '@nats-io/transport-node';
import { type AnyCommand, DomainError, ErrorCode, type PayloadOf, type ReplyOf } from '@runyard/contracts';
import type { CommandHandlerFn, MessageHeaders, Registration, SubmitOptions, WorkOptions } from './bus.js';
import { describeError, unwrapReply } from './command-reply.js';
import { assertMessageFits, messageBytes, payloadTooLarge } from './message-size.js';
import type { MessagingLogger } from './messaging-logger.js';
import { ensureDurable, fromNatsHeaders, isApiError, isMaxPayloadExceeded, parseJson, serveMessages, toNatsHeaders } from './nats-wire.js';
import { traceContext, withTraceHeaders } from './trace-context.js';
import { handleWork, WORK_ID_HEADER, WORK_REPLY_TO_HEADER, workRetryDelayMs } from './work-handling.js';

const DEFAULT_TIMEOUT_MS = 5000;
const PUBLISH_TIMEOUT_MS = 5000;
const DUPLICATE_WINDOW_MS = 2 * 60_000;
/** Work nobody took within a day is dropped (its submitters gave up long before). */
const MAX_AGE_MS = 24 * 3_600_000;
/** Past this much queued work, submits are refused (SERVICE_UNAVAILABLE) rather than filling the disk. */
const MAX_QUEUED_BYTES = 1024 ** 3;
/** Unsettled commands per durable across all its workers (each worker also keeps to its maxInFlight). */
const MAX_ACK_PENDING = 1000;
const DEFAULT_MAX_IN_FLIGHT = 16;
/** A submit whose id matches a command already handled queues it again, under a derived id: at most this often. */
const MAX_REQUEUES = 3;
/** Pending commands whose stream sequence a connection remembers. */
const MAX_REMEMBERED = 10_000;

/** What NatsWorkQueue needs of its NatsBus: the connection's state and limits. */
export interface WorkQueueHost {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  namespace: string;
  replicas: number;
  logger: MessagingLogger;
  isUsable(): boolean;
  unavailable(): DomainError;
  maxPayload(): number;
  /** Registers a rejecter called when the connection drops; returns its removal. */
  onConnectionLost(reject: (error: DomainError) => void): () => void;
  track(registration: Registration): void;
  untrack(registration: Registration): void;
}

/**
 * The work queue of `Bus.submit()` / `Bus.work()` over JetStream: one work-queue stream
 * (`<namespace>_work`, subjects `<namespace>.<service>.work.…`; a message leaves it when a
 * worker acknowledges it), one durable pull consumer per command. A submitter waits on one inbox per
 * connection; the worker sends the reply there, tagged with the command's id (`Runyard-Work-Id`),
 * before it acknowledges the message, so a crash in between redelivers rather than loses it.
 */
export class NatsWorkQueue {
  readonly streamName: string;
  private inbox: Promise<string> | undefined;
  private inboxSubscription: Subscription | undefined;
  /** Command key (subject + id) → submitters of this connection waiting for its reply. */
  private readonly waiters = new Map<string, Set<(wire: Uint8Array) => void>>();
  /** Command key → its stream sequence, while its reply has not come. */
  private readonly storedAt = new Map<string, number>();

  constructor(private readonly host: WorkQueueHost) {
    this.streamName = `${host.namespace}_work`;
  }

  /**
   * `<namespace>.<service>.work.<rest>` for the command `<service>.cmd.<rest>`: the third token keeps
   * the work stream's subjects apart from the event stream's (`<namespace>.*.evt.>`), which JetStream
   * requires of two streams.
   */
  private wire(subject: string): string {
    const [service, kind, ...rest] = subject.split('.');
    if (kind !== 'cmd' || rest.length === 0) throw new Error(`Not a command subject: ${subject}`);
    return `${this.host.namespace}.${service}.work.${rest.join('.')}`;
  }

  /** Creates the work stream, or updates the settings that may change on an existing one. */
  async ensureStream(): Promise<void> {
    const settings: Partial<StreamConfig> = {
      subjects: [`${this.host.namespace}.*.work.>`],
      max_age: nanos(MAX_AGE_MS),
      duplicate_window: nanos(DUPLICATE_WINDOW_MS),
      max_bytes: MAX_QUEUED_BYTES,
      discard: DiscardPolicy.New,
    };
    try {
      const info = await this.host.jsm.streams.info(this.streamName);
      await this.host.jsm.streams.update(this.streamName, { ...info.config, ...settings });
    } catch (error) {
      if (!isApiError(error, JetStreamApiCodes.StreamNotFound)) throw error;
      await this.host.jsm.streams.add({
        ...settings,
        name: this.streamName,
        retention: RetentionPolicy.Workqueue,
        storage: StorageType.File,
        num_replicas: this.host.replicas,
      });
    }
  }

  async submit<C extends AnyCommand>(command: C, payload: PayloadOf<C>, options: SubmitOptions): Promise<ReplyOf<C>> {
    if (!this.host.isUsable()) throw this.host.unavailable();
    const data = JSON.stringify(payload ?? null);
    const inbox = await this.replyInbox();
    // Ids name commands per subject: two commands may use the same id without meeting.
    const key = `${command.subject} ${options.messageId}`;
    const headers: MessageHeaders = {
      ...withTraceHeaders(options.headers, traceContext()),
      [WORK_REPLY_TO_HEADER]: inbox,
      [WORK_ID_HEADER]: key,
    };
    assertMessageFits(`The command on ${command.subject}`, data, headers, this.host.maxPayload());
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    // Waiting starts before the command is stored: a fast worker's reply must find its submitter.
    const reply = this.awaitReply(key, command.subject, timeoutMs);
    try {
      await this.enqueue(command.subject, data, headers, key);
      const wire = await reply.promise;
      this.storedAt.delete(key);
      return unwrapReply<ReplyOf<C>>(parseJson(wire), command.subject);
    } finally {
      reply.cancel();
    }
  }

  /**
   * Stores the command, unless a command with its key is still queued (then its reply will come to
   * this connection); one already handled — its reply went by while nobody waited — is queued again.
   */
  private async enqueue(subject: string, data: string, headers: MessageHeaders, key: string): Promise<void> {
    // Queued from here before, maybe longer ago than the dedupe window: still there → wait for it.
    const earlier = this.storedAt.get(key);
    if (earlier !== undefined && (await this.stillQueued(earlier))) return;
    let msgID = key;
    for (let requeues = 0; requeues <= MAX_REQUEUES; requeues++) {
      let ack;
      try {
        ack = await this.host.js.publish(this.wire(subject), data, { msgID, headers: toNatsHeaders(headers), timeout: PUBLISH_TIMEOUT_MS });
      } catch (error) {
        if (isMaxPayloadExceeded(error)) throw payloadTooLarge(`The command on ${subject}`, messageBytes(data, headers), this.host.maxPayload());
        throw new DomainError(ErrorCode.SERVICE_UNAVAILABLE, `Queueing ${subject} failed: ${describeError(error)}`);
      }
      this.remember(key, ack.seq);
      // A duplicate within the dedupe window: still queued (or being handled) → wait for its reply;
      // gone → handled, its reply unseen: queue it again under a derived id.
      if (!ack.duplicate || (await this.stillQueued(ack.seq))) return;
      msgID = `${key}#${ack.seq}`;
    }
    throw new DomainError(ErrorCode.SERVICE_UNAVAILABLE, `Queueing ${subject} failed: ${key} keeps meeting handled copies of itself`);
  }

  private async stillQueued(seq: number): Promise<boolean> {
    // A failed lookup counts as queued: the submitter waits (and times out) rather than queueing a copy.
    const stored = await this.host.jsm.streams.getMessage(this.streamName, { seq }).catch(() => undefined);
    return stored !== null;
  }

  /** Where each pending command of this connection was stored (bounded: the oldest are forgotten first). */
  private remember(key: string, seq: number): void {
    this.storedAt.delete(key);
    this.storedAt.set(key, seq);
    if (this.storedAt.size > MAX_REMEMBERED) this.storedAt.delete(this.storedAt.keys().next().value!);
  }

  /** This connection's reply inbox, subscribed once (concurrent first submits share it). */
  private replyInbox(): Promise<string> {
    this.inbox ??= (async () => {
      const inbox = createInbox();
      this.inboxSubscription = this.host.nc.subscribe(inbox, {
        callback: (error, msg) => {
          if (error) return;
          const id = msg.headers?.get(WORK_ID_HEADER);
          if (!id) return;
          for (const deliver of this.waiters.get(id) ?? []) deliver(msg.data);
        },
      });
      // The server must know the subscription before a reply can be sent to it.
      await this.host.nc.flush();
      return inbox;
    })().catch((error: unknown) => {
      // Try again with the next submit.
      this.inboxSubscription?.unsubscribe();
      this.inbox = undefined;
      throw new DomainError(ErrorCode.SERVICE_UNAVAILABLE, `Messaging is unavailable (${describeError(error)})`);
    });
    return this.inbox;
  }

  private awaitReply(messageId: string, subject: string, timeoutMs: number): { promise: Promise<Uint8Array>; cancel(): void } {
    let settle!: (wire: Uint8Array) => void;
    let fail!: (error: DomainError) => void;
    const promise = new Promise<Uint8Array>((resolve, reject) => {
      settle = resolve;
      fail = reject;
    });
    // It may fail (timeout, connection lost) while the command is still being stored, before anyone awaits it.
    promise.catch(() => undefined);
    let waiting = this.waiters.get(messageId);
    if (!waiting) this.waiters.set(messageId, (waiting = new Set()));
    waiting.add(settle);
    const timer = setTimeout(
      () => fail(new DomainError(ErrorCode.UPSTREAM_TIMEOUT, `No reply on ${subject} within ${timeoutMs} ms (the command stays queued)`)),
      timeoutMs,
    );
    const forget = this.host.onConnectionLost(fail);
    const owner = waiting;
    return {
      promise,
      cancel: () => {
        clearTimeout(timer);
        forget();
        owner.delete(settle);
        if (owner.size === 0 && this.waiters.get(messageId) === owner) this.waiters.delete(messageId);
      },
    };
  }

  async work<C extends AnyCommand>(command: C, options: WorkOptions<C>): Promise<Registration> {
    if (!this.host.isUsable()) throw this.host.unavailable();
    const maxInFlight = Math.max(1, options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT);
    await ensureDurable(this.host.jsm, this.streamName, options.durable, this.wire(command.subject), MAX_ACK_PENDING);
    const consumer = await this.host.js.consumers.get(this.streamName, options.durable);
    const messages: ConsumerMessages = await consumer.consume({ max_messages: maxInFlight });
    const handler = options.handler as CommandHandlerFn<AnyCommand>;

    const serving = serveMessages(messages, maxInFlight, (msg) => this.serve(command, handler, msg), (error) => {
      this.host.logger.error(`Work consumer ${options.durable} stopped: ${describeError(error)}`);
    });
    let stopped = false;
    const registration: Registration = {
      stop: async () => {
        if (stopped) return;
        stopped = true;
        this.host.untrack(registration);
        await serving.stop();
      },
    };
    this.host.track(registration);
    return registration;
  }

  /** Handles one queued command: reply then acknowledge, or leave it for a later delivery. */
  private async serve(command: AnyCommand, handler: CommandHandlerFn<AnyCommand>, msg: JsMsg): Promise<void> {
    const headers = fromNatsHeaders(msg.headers, true);
    const plain = parseJson(msg.data);
    const outcome =
      plain === undefined
        ? { kind: 'reply' as const, wire: JSON.stringify({ ok: false, error: { code: ErrorCode.VALIDATION_FAILED, message: 'Payload is not valid JSON' } }) }
        : await handleWork(command, handler, plain, { subject: command.subject, headers }, this.host.logger, this.host.maxPayload(), msg.info.deliveryCount);
    try {
      if (outcome.kind === 'retry') {
        msg.nak(workRetryDelayMs(msg.info.deliveryCount));
        return;
      }
      const replyTo = headers[WORK_REPLY_TO_HEADER];
      const id = headers[WORK_ID_HEADER];
      try {
        if (replyTo && id) this.host.nc.publish(replyTo, outcome.wire, { headers: toNatsHeaders({ [WORK_ID_HEADER]: id }) });
      } catch (error) {
        // The submitter times out and submits again: the handled command is then queued again.
        this.host.logger.warn(`Replying to work on ${command.subject} failed: ${describeError(error)}`);
      }
      msg.ack();
    } catch (error) {
      // Connection gone: the message is redelivered after ack_wait and handled again (idempotently).
      this.host.logger.warn(`Settling work on ${command.subject} failed: ${describeError(error)}`);
    }
  }

  close(): void {
    this.inboxSubscription?.unsubscribe();
  }
}
