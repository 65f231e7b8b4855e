import { PassThrough, type Readable } from 'node:stream';

/** One Server-Sent Event. `data` may span lines; each becomes its own `data:` line. */
export interface SseEvent {
  id?: string;
  event: string;
  data: string;
}

/**
 * `runs.evt.run.status_changed.v1` → `run.status_changed`: the subject without its service prefix
 * and version, as clients name event types (`addEventListener('run.status_changed', …)`).
 */
export function sseEventType(subject: string): string {
  const tokens = subject.split('.');
  const start = tokens[1] === 'evt' ? 2 : 0;
  const end = /^v[0-9]+$/.test(tokens[tokens.length - 1] ?? '') ? tokens.length - 1 : tokens.length;
  return tokens.slice(start, end).join('.');
}

export function formatEvent(event: SseEvent): string {
  let frame = '';
  if (event.id !== undefined) frame += `id: ${event.id}\n`;
  frame += `event: ${event.event}\n`;
  for (const line of event.data.split(/\r\n|\r|\n/)) frame += `data: ${line}\n`;
  return `${frame}\n`;
}

export function formatComment(text: string): string {
  return `: ${text}\n\n`;
}

export function formatRetry(ms: number): string {
  return `retry: ${Math.max(0, Math.round(ms))}\n\n`;
}

/**
 * The body of one SSE response: a byte stream the HTTP server pipes to the socket. `send()` resolves
 * only once the stream can take more (or the client is gone), so a reader that awaits it never buffers
 * more than the stream's high-water mark for a slow client; Fastify's pipe pauses on the socket's own
 * backpressure. When the client disconnects, Fastify destroys the body and `closed` settles.
 */
export class SseWriter {
  private readonly stream = new PassThrough();
  readonly closed: Promise<void>;

  constructor() {
    // A destroyed body must not surface as an unhandled 'error'; the response's end is what matters.
    this.stream.on('error', () => undefined);
    this.closed = new Promise((resolve) => this.stream.once('close', () => resolve()));
  }

  get body(): Readable {
    return this.stream;
  }

  /** Ended, destroyed, or its reader went away: nothing written now would reach anyone. */
  get isClosed(): boolean {
    return this.stream.destroyed || this.stream.writableEnded;
  }

  /** Waiting for the reader to catch up. */
  get isBackpressured(): boolean {
    return this.stream.writableNeedDrain;
  }

  /** Writes a frame; resolves when the stream has room again or is closed (never rejects). */
  async send(frame: string): Promise<void> {
    if (this.isClosed) return;
    if (this.stream.write(frame)) return;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        this.stream.off('drain', done);
        this.stream.off('close', done);
        resolve();
      };
      this.stream.on('drain', done);
      this.stream.on('close', done);
    });
  }

  /** Writes a frame unless the reader is behind: for heartbeats, which must never pile up. Whether it was written. */
  offer(frame: string): boolean {
    if (this.isClosed || this.isBackpressured) return false;
    this.stream.write(frame);
    return true;
  }

  /** Ends the response once what was written has been read. */
  end(): void {
    if (!this.isClosed) this.stream.end();
  }

  /** Drops what is buffered and ends the response at once. */
  destroy(): void {
    this.stream.destroy();
  }
}
