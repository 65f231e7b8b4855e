import { ApiError, readProblem, unreachable } from '../api-client.js';
import { SseParser, type SseMessage } from './sse-parser.js';

/** What the handler wants after an event. */
export type Next = 'continue' | 'stop';

export interface FollowOptions {
  url: string;
  headers: Record<string, string>;
  /** Resume strictly after this id (sent as `Last-Event-ID`). */
  lastEventId?: string;
  onEvent(message: SseMessage): Next | Promise<Next>;
  /** Told before each reconnection, with what ended the previous connection. */
  onReconnect?(info: { attempt: number; lastEventId: string | undefined; reason: string; delayMs: number }): void;
  /** Consecutive failed attempts (no stream opened) before giving up; default 8. */
  maxAttempts?: number;
  /** Cap of the reconnection delay; default 15 s. */
  maxDelayMs?: number;
  signal?: AbortSignal;
}

export interface FollowResult {
  /** `stopped`: the handler said so; `ended`: the server answered 204 (nothing more will come); `aborted`: the signal. */
  reason: 'stopped' | 'ended' | 'aborted';
  lastEventId: string | undefined;
}

/** Statuses worth retrying: the server is busy or restarting, or the per-caller stream limit is reached for now. */
const RETRYABLE = new Set([429, 502, 503, 504]);
const DEFAULT_RETRY_MS = 1000;

/**
 * Follows an SSE endpoint for as long as the handler wants: a connection that drops or ends (the
 * gateway ends streams after a maximum lifetime) is reopened with `Last-Event-ID` = the last id the
 * stream gave — an event's, the opening `ready`'s or a `heartbeat`'s — so nothing is lost or repeated.
 * Waits the server's `retry:` between connections, backing off while attempts keep failing. A 204
 * means the stream has nothing more (a finished run). A non-retryable error answer is an ApiError.
 */
export async function followSse(options: FollowOptions): Promise<FollowResult> {
  const maxAttempts = options.maxAttempts ?? 8;
  const maxDelayMs = options.maxDelayMs ?? 15_000;
  let lastEventId = options.lastEventId;
  let retryMs = DEFAULT_RETRY_MS;
  let failures = 0;
  for (let attempt = 0; ; attempt++) {
    if (options.signal?.aborted) return { reason: 'aborted', lastEventId };
    const controller = new AbortController();
    const abort = (): void => controller.abort();
    options.signal?.addEventListener('abort', abort, { once: true });
    let reason: string;
    let opened = false;
    try {
      const headers: Record<string, string> = { accept: 'text/event-stream', ...options.headers };
      if (lastEventId !== undefined) headers['last-event-id'] = lastEventId;
      const response = await fetch(options.url, { headers, signal: controller.signal });
      if (response.status === 204) {
        await response.body?.cancel();
        return { reason: 'ended', lastEventId };
      }
      if (!response.ok || response.body === null) {
        const problem = await readProblem(response);
        if (!RETRYABLE.has(response.status)) throw new ApiError(problem);
        const retryAfter = Number(response.headers.get('retry-after'));
        if (Number.isFinite(retryAfter) && retryAfter > 0) retryMs = retryAfter * 1000;
        reason = `HTTP ${response.status} ${problem.code ?? ''}`.trim();
      } else {
        opened = true;
        const parser = new SseParser(lastEventId);
        const decoder = new TextDecoder();
        const reader = (response.body as ReadableStream<Uint8Array>).getReader();
        try {
          for (;;) {
            const { done, value } = await reader.read();
            // An event cut off by the end of the body is dropped (the spec's rule): it comes again on resume.
            const messages = parser.push(done ? decoder.decode() : decoder.decode(value, { stream: true }));
            if (parser.retryMs !== undefined) retryMs = parser.retryMs;
            for (const message of messages) {
              lastEventId = message.id ?? lastEventId;
              if ((await options.onEvent(message)) === 'stop') {
                controller.abort();
                return { reason: 'stopped', lastEventId };
              }
            }
            // A complete frame with an id but no data still moves the cursor.
            lastEventId = parser.lastEventId ?? lastEventId;
            if (done) break;
          }
          reason = 'the server ended the stream';
        } catch (error) {
          if (options.signal?.aborted) return { reason: 'aborted', lastEventId };
          reason = `the connection dropped (${describe(error)})`;
        }
      }
    } catch (error) {
      if (error instanceof ApiError) throw error;
      if (options.signal?.aborted) return { reason: 'aborted', lastEventId };
      reason = describe(error);
    } finally {
      options.signal?.removeEventListener('abort', abort);
      controller.abort();
    }
    failures = opened ? 0 : failures + 1;
    if (failures >= maxAttempts) throw unreachable(options.url, new Error(`${reason}; gave up after ${failures} attempts`));
    const delayMs = Math.min(maxDelayMs, retryMs * 2 ** Math.max(0, failures - 1));
    options.onReconnect?.({ attempt: attempt + 1, lastEventId, reason, delayMs });
    await wait(delayMs, options.signal);
  }
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.cause instanceof Error ? error.cause.message : error.message;
  return String(error);
}

function wait(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
