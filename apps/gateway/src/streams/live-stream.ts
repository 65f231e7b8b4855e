import type { EventEnvelope } from '@runyard/contracts';
import type { Bus, LoggedEvent, Tail, TailStart } from '@runyard/messaging';
import type { Readable } from 'node:stream';
import { formatCursor, type GapReason } from './event-cursor.js';
import { formatComment, formatEvent, formatRetry, sseEventType, SseWriter } from './sse-writer.js';

/** Every event subject (one filter: nats-server 2.9); each stream selects its own events from them. */
export const ALL_EVENTS_FILTER = '*.evt.>';
/** How long a shutdown waits for a stream's buffered events to reach its client before cutting it. */
const SHUTDOWN_GRACE_MS = 1000;

export interface GapNotice {
  reason: GapReason;
  /** The cursor the client asked to resume from. */
  resumed_from: string | null;
}

export interface LiveStreamOptions {
  bus: Bus;
  start: TailStart;
  /** The epoch tag the ids of this stream carry (see event-cursor.ts). */
  epochTag: string;
  heartbeatMs: number;
  retryMs: number;
  /** Sent first (after `retry:`) when the client's cursor could not be resumed exactly. */
  gap?: GapNotice;
  /** Whether this stream carries the event (scope and filters). */
  selects(envelope: EventEnvelope): boolean;
  /** Ends the stream once this event has been sent (the run stream's terminal status change). */
  isLast?(envelope: EventEnvelope): boolean;
  /** The tail failed (transport lost, ...): the response ends and the client resumes from its cursor. */
  onTailError(error: unknown): void;
}

/**
 * One client's live stream: a tail of the event log written to an SSE body. Each selected event is
 * sent with its cursor as `id:`, in log order, once; the tail waits for each write, so a slow client
 * slows its own tail instead of growing a buffer. It ends when the client goes away (tail stopped),
 * after the `isLast` event, when the tail fails, or on `close()` (gateway shutdown).
 */
export class LiveStream {
  private readonly writer = new SseWriter();
  /** Asked for at start; events may arrive (and end the stream) before it resolves. */
  private tail: Promise<Tail> | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private ending: Promise<void> | undefined;
  /** Settles when the stream is over: the tail stopped and the body closed. */
  readonly done: Promise<void>;
  private resolveDone!: () => void;

  private constructor(private readonly options: LiveStreamOptions) {
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
  }

  /** Starts the tail; rejects (with nothing left running) when the tail cannot start. */
  static async open(options: LiveStreamOptions): Promise<LiveStream> {
    const stream = new LiveStream(options);
    await stream.start();
    return stream;
  }

  get body(): Readable {
    return this.writer.body;
  }

  private async start(): Promise<void> {
    const { options, writer } = this;
    writer.offer(formatRetry(options.retryMs));
    if (options.gap) writer.offer(formatEvent({ event: 'gap', data: JSON.stringify(options.gap) }));
    this.tail = options.bus.tail({ filterSubject: ALL_EVENTS_FILTER, start: options.start, handler: (event) => this.deliver(event) });
    let tail: Tail;
    try {
      tail = await this.tail;
    } catch (error) {
      writer.destroy();
      this.resolveDone();
      throw error;
    }
    void tail.ended.then(
      () => this.finish(),
      (error: unknown) => {
        if (!writer.isClosed) options.onTailError(error);
        return this.finish();
      },
    );
    void writer.closed.then(() => this.finish());
    this.heartbeat = setInterval(() => writer.offer(formatComment('ping')), options.heartbeatMs);
    this.heartbeat.unref();
  }

  private async deliver(event: LoggedEvent): Promise<void> {
    if (this.ending !== undefined || this.writer.isClosed) return;
    const { envelope } = event;
    if (!this.options.selects(envelope)) return;
    await this.writer.send(
      formatEvent({ id: formatCursor(this.options.epochTag, event.sequence), event: sseEventType(envelope.subject), data: JSON.stringify(envelope) }),
    );
    // Not awaited: stopping the tail waits for this handler to return.
    if (this.options.isLast?.(envelope)) void this.finish();
  }

  /** Ends the response after what was sent, and stops the tail. Idempotent. */
  finish(): Promise<void> {
    this.ending ??= (async () => {
      clearInterval(this.heartbeat);
      this.writer.end();
      await this.tail?.then((tail) => tail.stop()).catch(() => undefined);
      await this.writer.closed;
      this.resolveDone();
    })();
    return this.ending;
  }

  /** Gateway shutdown: ends the response, and cuts it if the client does not read the rest in time. */
  async close(): Promise<void> {
    const finished = this.finish();
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, SHUTDOWN_GRACE_MS)));
    await Promise.race([this.writer.closed, grace]);
    clearTimeout(timer);
    this.writer.destroy();
    await finished;
  }
}
