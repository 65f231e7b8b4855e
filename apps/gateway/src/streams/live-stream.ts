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
  /** The cursor the client asked to resume from, or (mid-stream) the last position the stream had reached. */
  resumed_from: string | null;
}

/**
 * Control events, sent with data `{}`: `ready` opens every stream, with the position it starts from as
 * its `id:`; `heartbeat` replaces a `: ping` comment when the stream has passed events this client does
 * not see since the last `id:` it sent. They carry a data line because EventSource clients that follow
 * the `eventsource-parser` (the `eventsource` npm package among them) ignore a frame without data,
 * `id:` included; browsers would honour an id-only frame.
 */
export const READY_EVENT = 'ready';
export const HEARTBEAT_EVENT = 'heartbeat';

export interface LiveStreamOptions {
  bus: Bus;
  start: TailStart;
  /** The epoch tag the ids of this stream carry (see event-cursor.ts). */
  epochTag: string;
  heartbeatMs: number;
  retryMs: number;
  /**
   * The stream ends cleanly after this long, so that the client reconnects (from its cursor) and is
   * authenticated again: a revoked key stops receiving within this time. Unset: no limit.
   */
  maxLifetimeMs?: number;
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
 * after the `isLast` event, when the tail fails, after `maxLifetimeMs`, or on `close()` (gateway shutdown).
 *
 * The client's cursor always names a position it can resume from exactly: `ready` gives it the start,
 * each sent event its own, and heartbeats move it past the events this client does not see (so a client
 * that drops before its first event, or after a long run of others' events, neither loses nor re-reads
 * anything). The tail reads every event subject, and the log holds nothing else, so its sequences are
 * contiguous: a jump means the log dropped events before this stream read them (retention), and the
 * client is told with a `gap` before anything after it.
 */
export class LiveStream {
  private readonly writer = new SseWriter();
  /** Asked for at start; events may arrive (and end the stream) before it resolves. */
  private tail: Promise<Tail> | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private lifetime: NodeJS.Timeout | undefined;
  /** The last log sequence this stream has passed, sent or not; unknown before the first event of a `new` or `time` start. */
  private position: number | undefined;
  /** The last sequence the client was given as `id:`. */
  private cursorSent: number | undefined;
  private ending: Promise<void> | undefined;
  /** Settles when the stream is over: the tail stopped and the body closed. */
  readonly done: Promise<void>;
  private resolveDone!: () => void;

  private constructor(private readonly options: LiveStreamOptions) {
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    if (options.start.kind === 'after') this.position = options.start.sequence;
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
    // The gap first: a client that dropped right after `ready` would resume from its id and never hear of it.
    if (options.gap) writer.offer(formatEvent({ event: 'gap', data: JSON.stringify(options.gap) }));
    writer.offer(this.controlFrame(READY_EVENT, this.position));
    this.cursorSent = this.position;
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
    this.heartbeat = setInterval(() => this.beat(), options.heartbeatMs);
    this.heartbeat.unref();
    if (options.maxLifetimeMs !== undefined) {
      this.lifetime = setTimeout(() => void this.finish(), options.maxLifetimeMs);
      this.lifetime.unref();
    }
  }

  private async deliver(event: LoggedEvent): Promise<void> {
    if (this.ending !== undefined || this.writer.isClosed) return;
    const { envelope, sequence } = event;
    const previous = this.position;
    if (previous !== undefined && sequence <= previous) return; // never twice
    if (previous !== undefined && sequence > previous + 1) {
      const gap: GapNotice = { reason: 'retention', resumed_from: formatCursor(this.options.epochTag, previous) };
      await this.writer.send(formatEvent({ event: 'gap', data: JSON.stringify(gap) }));
      if (this.ending !== undefined) return;
    }
    // Both set as the frame is written (send() writes before it waits), so a heartbeat never sends an older id after it.
    this.position = sequence;
    if (!this.options.selects(envelope)) return;
    this.cursorSent = sequence;
    await this.writer.send(formatEvent({ id: this.cursor(sequence), event: sseEventType(envelope.subject), data: JSON.stringify(envelope) }));
    // Not awaited: stopping the tail waits for this handler to return.
    if (this.options.isLast?.(envelope)) void this.finish();
  }

  /** A heartbeat: a comment, or the client's cursor moved on past events it does not see. Skipped while the client is behind. */
  private beat(): void {
    if (!this.hasUnsentPosition()) {
      this.writer.offer(formatComment('ping'));
      return;
    }
    const position = this.position;
    if (this.writer.offer(this.controlFrame(HEARTBEAT_EVENT, position))) this.cursorSent = position;
  }

  private hasUnsentPosition(): boolean {
    return this.position !== undefined && this.position !== this.cursorSent;
  }

  private controlFrame(event: string, sequence: number | undefined): string {
    return formatEvent({ id: sequence === undefined ? undefined : this.cursor(sequence), event, data: '{}' });
  }

  private cursor(sequence: number): string {
    return formatCursor(this.options.epochTag, sequence);
  }

  /** Ends the response after what was sent, and stops the tail. Idempotent. */
  finish(): Promise<void> {
    this.ending ??= (async () => {
      clearInterval(this.heartbeat);
      clearTimeout(this.lifetime);
      // The client resumes from its cursor: bring it up to where this stream got to.
      if (this.hasUnsentPosition() && !this.writer.isClosed) void this.writer.send(this.controlFrame(HEARTBEAT_EVENT, this.position));
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
