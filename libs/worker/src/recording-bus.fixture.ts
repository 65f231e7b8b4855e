import { DomainError, ErrorCode, RecordTraceSpans, RenewLease, type AnyCommand, type EventEnvelope, type PayloadOf, type ReplyOf, type TraceSpanInput } from '@runyard/contracts';
import type { Bus, BusStatus, CommandHandlerFn, ConsumeOptions, EventLogInfo, MessageHeaders, Registration, RequestOptions, SubmitOptions, Tail, TailOptions, WorkOptions } from '@runyard/messaging';

export interface RecordedRequest {
  subject: string;
  payload: Record<string, unknown>;
  /** 'ok', an error code, or undefined while in flight. */
  outcome?: string;
}

/**
 * A worker's view of the bus for tests: every request it sends is recorded with its outcome, and
 * lease renewals can be held back (a worker cut off from the runs service, for lease-loss tests),
 * the event log made untailable, and replies lost on the way back.
 */
export class RecordingBus implements Bus {
  readonly requests: RecordedRequest[] = [];
  /** Trace spans the worker sent, in order (taken here: these tests run no transcripts service). */
  readonly spans: TraceSpanInput[] = [];
  /** Calls of `tail()`, refused ones included. */
  tailAttempts = 0;
  private holding = false;
  private tailBroken = false;
  private readonly heldBack: (() => void)[] = [];
  private readonly repliesToLose = new Map<string, number>();

  constructor(private readonly inner: Bus) {}

  /** Renewals sent from now on wait until `releaseRenewals()`. */
  holdRenewals(): void {
    this.holding = true;
  }

  /** Lets the held renewals (and later ones) through. */
  releaseRenewals(): void {
    this.holding = false;
    for (const release of this.heldBack.splice(0)) release();
  }

  /** The event log cannot be tailed (workers fall back to polling and heartbeats). */
  breakTail(): void {
    this.tailBroken = true;
  }

  /** The event log can be tailed again. */
  repairTail(): void {
    this.tailBroken = false;
  }

  /**
   * The next `count` requests on `subject` reach the runs service and take effect, but their replies
   * are lost: the sender gets UPSTREAM_TIMEOUT (recorded as the outcome).
   */
  loseRepliesOf(subject: string, count = 1): void {
    this.repliesToLose.set(subject, count);
  }

  /** What was sent about one run, as `subject → outcome` in order. */
  about(runId: string): { subject: string; outcome?: string }[] {
    return this.requests.filter((request) => request.payload.run_id === runId).map(({ subject, outcome }) => ({ subject, outcome }));
  }

  async request<C extends AnyCommand>(command: C, payload: PayloadOf<C>, options?: RequestOptions): Promise<ReplyOf<C>> {
    if (command.subject === RecordTraceSpans.subject) {
      const { spans } = payload as PayloadOf<typeof RecordTraceSpans>;
      this.spans.push(...spans);
      return { recorded: spans.length, refused: 0, limit_reached: false } as ReplyOf<C>;
    }
    if (command.subject === RenewLease.subject && this.holding) await new Promise<void>((resolve) => this.heldBack.push(resolve));
    return this.record(command, payload, () => this.inner.request(command, payload, options));
  }

  /** Work-queue commands (log batches) are recorded as requests are. */
  submit<C extends AnyCommand>(command: C, payload: PayloadOf<C>, options: SubmitOptions): Promise<ReplyOf<C>> {
    return this.record(command, payload, () => this.inner.submit(command, payload, options));
  }

  private async record<C extends AnyCommand>(command: C, payload: PayloadOf<C>, send: () => Promise<ReplyOf<C>>): Promise<ReplyOf<C>> {
    const entry: RecordedRequest = { subject: command.subject, payload };
    this.requests.push(entry);
    try {
      const reply = await send();
      const toLose = this.repliesToLose.get(command.subject) ?? 0;
      if (toLose > 0) {
        this.repliesToLose.set(command.subject, toLose - 1);
        throw new DomainError(ErrorCode.UPSTREAM_TIMEOUT, `reply on ${command.subject} lost by the test`);
      }
      entry.outcome = 'ok';
      return reply;
    } catch (error) {
      entry.outcome = error instanceof DomainError ? error.code : 'error';
      throw error;
    }
  }

  handle<C extends AnyCommand>(command: C, queueGroup: string, handler: CommandHandlerFn<C>): Promise<Registration> {
    return this.inner.handle(command, queueGroup, handler);
  }

  work<C extends AnyCommand>(command: C, options: WorkOptions<C>): Promise<Registration> {
    return this.inner.work(command, options);
  }

  publish(envelope: EventEnvelope, headers?: MessageHeaders): Promise<void> {
    return this.inner.publish(envelope, headers);
  }

  consume(options: ConsumeOptions): Promise<Registration> {
    return this.inner.consume(options);
  }

  tail(options: TailOptions): Promise<Tail> {
    this.tailAttempts++;
    if (this.tailBroken) return Promise.reject(new DomainError(ErrorCode.SERVICE_UNAVAILABLE, 'tail broken by the test'));
    return this.inner.tail(options);
  }

  eventLog(): Promise<EventLogInfo> {
    return this.inner.eventLog();
  }

  status(): BusStatus {
    return this.inner.status();
  }

  /** The inner bus belongs to the fixture: closing this one closes nothing. */
  close(): Promise<void> {
    return Promise.resolve();
  }
}
