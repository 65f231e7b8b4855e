import { LogAppended, LogClosed, LOG_EVENTS_FILTER, type CallerScope, type LogLineView } from '@runyard/contracts';
import type { Bus, LoggedEvent, Tail } from '@runyard/messaging';
import type { Readable } from 'node:stream';
import { formatComment, formatEvent, formatRetry, SseWriter } from '../streams/sse-writer.js';

/** SSE event types of a log tail. */
export const LOG_LINE_EVENT = 'log.line';
export const LOG_CLOSED_EVENT = 'log.closed';
/** Lines read per query while catching up. */
const READ_BATCH = 200;

export interface LogTailOptions {
  bus: Bus;
  scope: CallerScope;
  runId: string;
  /** The last seq the client has (0: none). */
  afterSeq: number;
  heartbeatMs: number;
  retryMs: number;
  maxLifetimeMs?: number;
  listLines(afterSeq: number, limit: number): Promise<LogLineView[]>;
  readState(): Promise<{ last_seq: number; closed: boolean }>;
  onError(error: unknown): void;
}

/**
 * One client's live tail of a run's log. It follows the transcripts service's small log events
 * (`log.appended` ranges, `log.closed` with the final seq) and reads the lines themselves with the
 * list query, so each line goes out once, in seq order, with its seq as `id:`: a client that resumes
 * with `Last-Event-ID` continues right after it, nothing lost, nothing repeated. The event tail is
 * opened before the first read, so no batch committed meanwhile is missed. The stream ends once the
 * log is closed and its last line is out (a `log.closed` event says so), when the client goes away,
 * after `maxLifetimeMs` (the client resumes), or on `close()`.
 */
export class LogTail {
  private readonly writer = new SseWriter();
  private tail: Tail | undefined;
  /** Highest seq known committed (from events and the state read). */
  private latest = 0;
  /** The log's final seq, once it is closed. */
  private finalSeq: number | undefined;
  private sent: number;
  private wake: (() => void) | undefined;
  private ending = false;
  private lifetime: NodeJS.Timeout | undefined;
  readonly done: Promise<void>;
  private resolveDone!: () => void;

  constructor(private readonly options: LogTailOptions) {
    this.sent = options.afterSeq;
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
  }

  get body(): Readable {
    return this.writer.body;
  }

  /**
   * Opens the event tail and reads where the log stands. Resolves `ended` when the client already
   * has every line of a closed log (nothing to stream: answer 204), else `streaming` with the body running.
   */
  async open(): Promise<'streaming' | 'ended'> {
    const { bus } = this.options;
    this.tail = await bus.tail({ filterSubject: LOG_EVENTS_FILTER, start: { kind: 'new' }, handler: (event) => this.observe(event) });
    try {
      const state = await this.options.readState();
      this.latest = Math.max(this.latest, state.last_seq);
      if (state.closed) this.finalSeq ??= state.last_seq;
    } catch (error) {
      await this.stopTail();
      throw error;
    }
    if (this.finalSeq !== undefined && this.sent >= this.finalSeq) {
      await this.stopTail();
      this.writer.destroy();
      this.resolveDone();
      return 'ended';
    }
    this.writer.offer(formatRetry(this.options.retryMs));
    void this.writer.closed.then(() => this.finish());
    void this.tail.ended.then(
      () => this.finish(),
      (error: unknown) => {
        if (!this.writer.isClosed) this.options.onError(error);
        return this.finish();
      },
    );
    if (this.options.maxLifetimeMs !== undefined) {
      this.lifetime = setTimeout(() => void this.finish(), this.options.maxLifetimeMs);
      this.lifetime.unref();
    }
    void this.pump().catch((error: unknown) => {
      if (!this.writer.isClosed) this.options.onError(error);
      return this.finish();
    });
    return 'streaming';
  }

  private observe({ envelope }: LoggedEvent): Promise<void> {
    const { scope, runId } = this.options;
    if (envelope.run_id !== runId || envelope.tenant_id !== scope.tenant_id) return Promise.resolve();
    const data = envelope.data as { last_seq?: unknown };
    if (typeof data.last_seq !== 'number') return Promise.resolve();
    if (envelope.subject === LogAppended.subject) this.latest = Math.max(this.latest, data.last_seq);
    if (envelope.subject === LogClosed.subject) {
      this.finalSeq = data.last_seq;
      this.latest = Math.max(this.latest, data.last_seq);
    }
    this.wake?.();
    return Promise.resolve();
  }

  /** Sends what is committed and not yet sent; waits for news (or a heartbeat) in between; ends after the final line. */
  private async pump(): Promise<void> {
    while (!this.ending) {
      if (this.latest > this.sent) {
        const lines = await this.options.listLines(this.sent, READ_BATCH);
        if (lines.length === 0) this.latest = this.sent; // nothing more is readable yet: wait for the next event
        for (const line of lines) {
          if (this.ending) return;
          await this.writer.send(formatEvent({ id: String(line.seq), event: LOG_LINE_EVENT, data: JSON.stringify(line) }));
          this.sent = line.seq;
        }
        continue;
      }
      if (this.finalSeq !== undefined && this.sent >= this.finalSeq) {
        await this.writer.send(formatEvent({ event: LOG_CLOSED_EVENT, data: JSON.stringify({ run_id: this.options.runId, last_seq: this.finalSeq }) }));
        await this.finish();
        return;
      }
      const news = await this.waitForNews();
      if (!news) this.writer.offer(formatComment('ping'));
    }
  }

  /** True when an event arrived, false after a heartbeat interval of quiet. */
  private waitForNews(): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = undefined;
        resolve(false);
      }, this.options.heartbeatMs);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve(true);
      };
    });
  }

  private async stopTail(): Promise<void> {
    await this.tail?.stop().catch(() => undefined);
  }

  /** Ends the response after what was sent, and stops the event tail. Idempotent. */
  async finish(): Promise<void> {
    if (this.ending) return this.done;
    this.ending = true;
    clearTimeout(this.lifetime);
    this.wake?.();
    this.writer.end();
    await this.stopTail();
    await this.writer.closed;
    this.resolveDone();
    return this.done;
  }

  /** Gateway shutdown: ends the response at once. */
  async close(): Promise<void> {
    const finished = this.finish();
    this.writer.destroy();
    await finished;
  }
}
