/* eslint-disable @typescript-eslint/require-await -- this adapter does its work synchronously, but keeps the
   port's async contract: its failures must reach callers as rejections, exactly as NatsBus's do. */
import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
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
  WorkOptions,
} from './bus.js';
import { describeError, serveCommand, unwrapReply } from './command-reply.js';
import { assertMessageFits, assertPayloadLimit, DEFAULT_MAX_PAYLOAD_BYTES } from './message-size.js';
import type { MessagingLogger } from './messaging-logger.js';
import { assertEventSubject, subjectMatches } from './subject-filter.js';
import { assertTailStart, startTail } from './tail-lifecycle.js';
import { InProcessWorkQueue } from './in-process-work-queue.js';
import { runWithTraceContext, traceContext, traceFromEvent, traceIdNote, withTraceHeaders } from './trace-context.js';

export interface InProcessBusOptions {
  /** Publishing an id again within this window is a no-op (JetStream `duplicate_window`); default 2 min. */
  duplicateWindowMs?: number;
  /** Events older than this leave the log (JetStream `max_age`); default 7 days. */
  maxAgeMs?: number;
  /** Most events the log keeps; past it the oldest leave first (JetStream `max_msgs`); default 100,000. */
  maxRetainedEvents?: number;
  /**
   * Largest request, reply or event (data plus headers) the bus carries, as NATS's `max_payload`; default
   * 1 MiB, NATS's default. Larger requests and events are refused with PAYLOAD_TOO_LARGE, a larger reply
   * reaches its caller as PAYLOAD_TOO_LARGE.
   */
  maxPayloadBytes?: number;
  logger?: MessagingLogger;
}

const DEFAULT_TIMEOUT_MS = 5000;

interface HandlerEntry {
  command: AnyCommand;
  handler: CommandHandlerFn<AnyCommand>;
  inFlight: Set<Promise<unknown>>;
}

interface QueueGroup {
  entries: HandlerEntry[];
  next: number;
}

interface StoredEvent {
  sequence: number;
  subject: string;
  /** Stored serialised, so every delivery gets its own copy. */
  json: string;
  headers: MessageHeaders;
  storedAt: number;
}

/** A delivered, not yet settled event; `redeliverAt` null while a handler holds it. */
interface PendingDelivery {
  sequence: number;
  deliveryCount: number;
  redeliverAt: number | null;
}

interface Attachment {
  options: ConsumeOptions;
  maxInFlight: number;
  inFlight: Set<Promise<void>>;
}

/** The in-memory twin of a JetStream durable pull consumer: its position survives detach/attach. */
interface Durable {
  name: string;
  filterSubject: string;
  maxAckPending: number;
  /** Next stream sequence not yet delivered to this durable. */
  nextSequence: number;
  pending: Map<number, PendingDelivery>;
  attachments: Attachment[];
  nextAttachment: number;
}

/** A running tail's position; `wake` is set while it waits for the next event to be published. */
interface Follower {
  filterSubject: string;
  /** Next stream sequence to look at. */
  nextSequence: number;
  /** Epoch milliseconds; events stored earlier are skipped (a `time` start). */
  notBefore: number | undefined;
  wake: (() => void) | undefined;
}

/**
 * `Bus` for standalone mode: everything in memory, in one process, with the NATS/JetStream semantics
 * the port documents (JSON round trip, validation before the handler, queue-group round robin,
 * dedupe window, durable consumers with ack/nak/term and `max_ack_pending`, tails over a retained log
 * that drops its oldest events past `maxRetainedEvents`, and NATS's message size limit). Handlers always run on a later tick than the
 * caller, as they would across a network.
 */
export class InProcessBus implements Bus {
  private readonly groups = new Map<string, Map<string, QueueGroup>>();
  private readonly log: StoredEvent[] = [];
  private lastSequence = 0;
  /** Event id → time stored, oldest first (Map keeps insertion order). */
  private readonly recentIds = new Map<string, number>();
  private readonly durables = new Map<string, Durable>();
  private readonly followers = new Set<Follower>();
  /** New per instance: a standalone restart starts a new log whose sequences mean nothing to the old one. */
  private readonly epoch = randomUUID();
  private readonly registrations = new Set<Registration>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly duplicateWindowMs: number;
  private readonly maxAgeMs: number;
  private readonly maxRetainedEvents: number;
  private readonly maxPayloadBytes: number;
  private readonly logger: MessagingLogger;
  private closed = false;
  private readonly workQueue: InProcessWorkQueue;

  constructor(options: InProcessBusOptions = {}) {
    this.duplicateWindowMs = options.duplicateWindowMs ?? 2 * 60_000;
    this.maxAgeMs = options.maxAgeMs ?? 7 * 24 * 3_600_000;
    this.maxRetainedEvents = options.maxRetainedEvents ?? 100_000;
    if (!Number.isSafeInteger(this.maxRetainedEvents) || this.maxRetainedEvents < 1) {
      throw new Error(`maxRetainedEvents must be a positive integer, not ${this.maxRetainedEvents}`);
    }
    this.maxPayloadBytes = options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
    assertPayloadLimit(this.maxPayloadBytes);
    this.logger = options.logger ?? new Logger(InProcessBus.name);
    this.workQueue = new InProcessWorkQueue(this.logger, this.maxPayloadBytes);
  }

  async request<C extends AnyCommand>(command: C, payload: PayloadOf<C>, options: RequestOptions = {}): Promise<ReplyOf<C>> {
    if (this.closed) throw new DomainError(ErrorCode.SERVICE_UNAVAILABLE, 'The bus is closed');
    const wire = JSON.stringify(payload ?? null);
    const headers = withTraceHeaders(options.headers, traceContext());
    assertMessageFits(`The request on ${command.subject}`, wire, headers, this.maxPayloadBytes);
    const targets = [...(this.groups.get(command.subject)?.values() ?? [])]
      .filter((group) => group.entries.length > 0)
      .map((group) => group.entries[group.next++ % group.entries.length]);
    if (targets.length === 0) {
      throw new DomainError(ErrorCode.SERVICE_UNAVAILABLE, `No handler for ${command.subject}`);
    }
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new DomainError(ErrorCode.UPSTREAM_TIMEOUT, `No reply on ${command.subject} within ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    try {
      // Like a NATS request: every group gets it, the first reply wins.
      const reply = await Promise.race([...targets.map((entry) => this.dispatch(entry, wire, headers)), timedOut]);
      return unwrapReply<ReplyOf<C>>(JSON.parse(reply), command.subject);
    } finally {
      clearTimeout(timer);
    }
  }

  private dispatch(entry: HandlerEntry, wire: string, headers: MessageHeaders): Promise<string> {
    const served = (async () => {
      await nextTick();
      return serveCommand(entry.command, entry.handler, JSON.parse(wire), { subject: entry.command.subject, headers }, this.logger, this.maxPayloadBytes);
    })();
    entry.inFlight.add(served);
    void served.finally(() => entry.inFlight.delete(served));
    return served;
  }

  async handle<C extends AnyCommand>(command: C, queueGroup: string, handler: CommandHandlerFn<C>): Promise<Registration> {
    if (this.closed) throw new DomainError(ErrorCode.SERVICE_UNAVAILABLE, 'The bus is closed');
    const entry: HandlerEntry = { command, handler: handler as CommandHandlerFn<AnyCommand>, inFlight: new Set() };
    let bySubject = this.groups.get(command.subject);
    if (!bySubject) this.groups.set(command.subject, (bySubject = new Map<string, QueueGroup>()));
    let group = bySubject.get(queueGroup);
    if (!group) bySubject.set(queueGroup, (group = { entries: [], next: 0 }));
    group.entries.push(entry);

    let stopped = false;
    const registration: Registration = {
      stop: async () => {
        if (stopped) return;
        stopped = true;
        group.entries = group.entries.filter((e) => e !== entry);
        this.registrations.delete(registration);
        await Promise.allSettled([...entry.inFlight]);
      },
    };
    this.registrations.add(registration);
    return registration;
  }

  submit<C extends AnyCommand>(command: C, payload: PayloadOf<C>, options: SubmitOptions): Promise<ReplyOf<C>> {
    return this.workQueue.submit(command, payload, options);
  }

  async work<C extends AnyCommand>(command: C, options: WorkOptions<C>): Promise<Registration> {
    const queued = this.workQueue.work(command, options);
    const registration: Registration = {
      stop: async () => {
        this.registrations.delete(registration);
        await queued.stop();
      },
    };
    this.registrations.add(registration);
    return registration;
  }

  async publish(envelope: EventEnvelope, headers: MessageHeaders = {}): Promise<void> {
    if (this.closed) throw new DomainError(ErrorCode.SERVICE_UNAVAILABLE, 'The bus is closed');
    assertEventSubject(envelope.subject);
    const json = JSON.stringify(envelope);
    assertMessageFits(`The ${envelope.subject} event`, json, headers, this.maxPayloadBytes);
    const now = Date.now();
    this.forgetOldIds(now);
    if (this.recentIds.has(envelope.id)) return;
    this.recentIds.set(envelope.id, now);
    this.log.push({ sequence: ++this.lastSequence, subject: envelope.subject, json, headers: { ...headers }, storedAt: now });
    this.expireOldEvents(now);
    while (this.log.length > this.maxRetainedEvents) this.log.shift();
    for (const durable of this.durables.values()) this.pump(durable);
    for (const follower of this.followers) {
      const wake = follower.wake;
      follower.wake = undefined;
      wake?.();
    }
  }

  async consume(options: ConsumeOptions): Promise<Registration> {
    if (this.closed) throw new DomainError(ErrorCode.SERVICE_UNAVAILABLE, 'The bus is closed');
    const maxInFlight = Math.max(1, options.maxInFlight ?? 1);
    let durable = this.durables.get(options.durable);
    if (!durable) {
      durable = {
        name: options.durable,
        filterSubject: options.filterSubject,
        maxAckPending: maxInFlight,
        nextSequence: 1,
        pending: new Map(),
        attachments: [],
        nextAttachment: 0,
      };
      this.durables.set(options.durable, durable);
    } else if (durable.filterSubject !== options.filterSubject) {
      // As on nats-server 2.9: a durable's filter cannot change.
      throw new Error(`Durable ${options.durable} already exists with filter ${durable.filterSubject}`);
    }
    durable.maxAckPending = maxInFlight;
    const attachment: Attachment = { options, maxInFlight, inFlight: new Set() };
    durable.attachments.push(attachment);
    this.pump(durable);

    const owner = durable;
    let stopped = false;
    const registration: Registration = {
      stop: async () => {
        if (stopped) return;
        stopped = true;
        owner.attachments = owner.attachments.filter((a) => a !== attachment);
        this.registrations.delete(registration);
        await Promise.allSettled([...attachment.inFlight]);
      },
    };
    this.registrations.add(registration);
    return registration;
  }

  async tail(options: TailOptions): Promise<Tail> {
    if (this.closed) throw new DomainError(ErrorCode.SERVICE_UNAVAILABLE, 'The bus is closed');
    assertTailStart(options.start);
    const { start } = options;
    const follower: Follower = {
      filterSubject: options.filterSubject,
      nextSequence: start.kind === 'new' ? this.lastSequence + 1 : start.kind === 'after' ? start.sequence + 1 : 1,
      notBefore: start.kind === 'time' ? start.time.getTime() : undefined,
      wake: undefined,
    };
    this.followers.add(follower);
    const tail = startTail(
      {
        run: async (stopping) => {
          await nextTick();
          while (!stopping()) {
            const stored = this.nextForFollower(follower);
            if (!stored) {
              await new Promise<void>((resolve) => (follower.wake = resolve));
              continue;
            }
            follower.nextSequence = stored.sequence + 1;
            // One at a time: the next event waits for this handler (backpressure).
            await options.handler({ envelope: JSON.parse(stored.json) as EventEnvelope, sequence: stored.sequence });
          }
        },
        interrupt: () => follower.wake?.(),
        cleanup: async () => {
          this.followers.delete(follower);
          this.registrations.delete(tail);
        },
      },
      options.filterSubject,
      this.logger,
    );
    this.registrations.add(tail);
    return tail;
  }

  async eventLog(): Promise<EventLogInfo> {
    if (this.closed) throw new DomainError(ErrorCode.SERVICE_UNAVAILABLE, 'The bus is closed');
    return { epoch: this.epoch, firstSequence: this.log[0]?.sequence ?? this.lastSequence + 1, lastSequence: this.lastSequence };
  }

  status(): BusStatus {
    return this.closed ? { connected: false, detail: 'closed' } : { connected: true };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([...this.registrations].map((r) => r.stop()));
    this.workQueue.close();
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  /** Hands deliverable events to attachments with free capacity: due redeliveries first, then new events. */
  private pump(durable: Durable): void {
    if (this.closed) return;
    for (;;) {
      const attachment = this.freeAttachment(durable);
      if (!attachment) return;
      const redelivery = this.dueRedelivery(durable);
      if (redelivery) {
        const stored = this.stored(redelivery.sequence);
        if (!stored) {
          durable.pending.delete(redelivery.sequence); // expired from the log meanwhile
          continue;
        }
        redelivery.redeliverAt = null;
        redelivery.deliveryCount += 1;
        this.deliver(durable, attachment, redelivery, stored);
        continue;
      }
      if (durable.pending.size >= durable.maxAckPending) return;
      const stored = this.nextMatching(durable);
      if (!stored) return;
      durable.nextSequence = stored.sequence + 1;
      const delivery: PendingDelivery = { sequence: stored.sequence, deliveryCount: 1, redeliverAt: null };
      durable.pending.set(stored.sequence, delivery);
      this.deliver(durable, attachment, delivery, stored);
    }
  }

  private freeAttachment(durable: Durable): Attachment | undefined {
    const count = durable.attachments.length;
    for (let i = 0; i < count; i++) {
      const candidate = durable.attachments[(durable.nextAttachment + i) % count];
      if (candidate.inFlight.size < candidate.maxInFlight) {
        durable.nextAttachment = (durable.nextAttachment + i + 1) % count;
        return candidate;
      }
    }
    return undefined;
  }

  private dueRedelivery(durable: Durable): PendingDelivery | undefined {
    const now = Date.now();
    let due: PendingDelivery | undefined;
    for (const delivery of durable.pending.values()) {
      if (delivery.redeliverAt !== null && delivery.redeliverAt <= now && (!due || delivery.sequence < due.sequence)) due = delivery;
    }
    return due;
  }

  private nextMatching(durable: Durable): StoredEvent | undefined {
    const first = this.log[0];
    if (!first) return undefined;
    for (let i = Math.max(0, durable.nextSequence - first.sequence); i < this.log.length; i++) {
      const stored = this.log[i];
      if (subjectMatches(durable.filterSubject, stored.subject)) return stored;
    }
    durable.nextSequence = this.lastSequence + 1;
    return undefined;
  }

  /** The follower's next event (skipping what it does not match), or undefined once it has read the whole log. */
  private nextForFollower(follower: Follower): StoredEvent | undefined {
    const first = this.log[0];
    if (first) {
      // A position older than the log (dropped meanwhile, or an old `after`) starts at the first retained event.
      for (let i = Math.max(0, follower.nextSequence - first.sequence); i < this.log.length; i++) {
        const stored = this.log[i];
        if (follower.notBefore !== undefined && stored.storedAt < follower.notBefore) continue;
        if (subjectMatches(follower.filterSubject, stored.subject)) return stored;
      }
    }
    follower.nextSequence = Math.max(follower.nextSequence, this.lastSequence + 1);
    return undefined;
  }

  private stored(sequence: number): StoredEvent | undefined {
    const first = this.log[0];
    return first ? this.log[sequence - first.sequence] : undefined;
  }

  private deliver(durable: Durable, attachment: Attachment, delivery: PendingDelivery, stored: StoredEvent): void {
    let settled = false;
    const settle = (outcome: 'ack' | 'term' | { nakDelayMs: number }): void => {
      if (settled) return;
      settled = true;
      if (outcome === 'ack' || outcome === 'term') {
        durable.pending.delete(delivery.sequence);
      } else {
        delivery.redeliverAt = Date.now() + outcome.nakDelayMs;
        this.wakeAfter(durable, outcome.nakDelayMs);
      }
      this.schedulePump(durable);
    };
    const event: DeliveredEvent = {
      envelope: JSON.parse(stored.json) as EventEnvelope,
      sequence: stored.sequence,
      deliveryCount: delivery.deliveryCount,
      headers: { ...stored.headers },
      ack: async () => settle('ack'),
      nak: async (delayMs = 0) => settle({ nakDelayMs: Math.max(0, delayMs) }),
      term: async () => settle('term'),
    };
    const { options } = attachment;
    const run = (async () => {
      await nextTick();
      try {
        await runWithTraceContext(traceFromEvent(event.headers, event.envelope), () => options.handler(event));
        settle('ack');
      } catch (error) {
        this.logger.warn(`Consumer ${durable.name} failed on event ${event.envelope.id} (${stored.subject}${traceIdNote(event.envelope)}): ${describeError(error)}`);
        settle({ nakDelayMs: options.retryDelayMs ?? 1000 });
      }
    })();
    attachment.inFlight.add(run);
    void run.finally(() => {
      attachment.inFlight.delete(run);
      this.schedulePump(durable);
    });
  }

  private schedulePump(durable: Durable): void {
    queueMicrotask(() => this.pump(durable));
  }

  private wakeAfter(durable: Durable, delayMs: number): void {
    const dueBy = Date.now() + delayMs;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.pump(durable);
      // Timers run on a monotonic clock and due times on Date.now(): one can fire a millisecond before
      // the redelivery it is for is due, and nothing else would wake the durable. Sleep again for the rest.
      const now = Date.now();
      let early = Infinity;
      for (const { redeliverAt } of durable.pending.values()) {
        if (redeliverAt !== null && redeliverAt > now && redeliverAt <= dueBy) early = Math.min(early, redeliverAt);
      }
      if (early !== Infinity && !this.closed) this.wakeAfter(durable, early - now);
    }, delayMs);
    timer.unref();
    this.timers.add(timer);
  }

  private forgetOldIds(now: number): void {
    for (const [id, storedAt] of this.recentIds) {
      if (now - storedAt < this.duplicateWindowMs) break;
      this.recentIds.delete(id);
    }
  }

  private expireOldEvents(now: number): void {
    let expired = 0;
    while (expired < this.log.length && now - this.log[expired].storedAt >= this.maxAgeMs) expired++;
    if (expired > 0) this.log.splice(0, expired);
  }
}

function nextTick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
