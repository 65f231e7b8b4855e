import {
  AppendLogLines,
  DomainError,
  ErrorCode,
  LOG_BATCH_MAX_LINES,
  LOG_LINE_TEXT_MAX_BYTES,
  type LogAppendResult,
  type LogLineInput,
  type LogLineLevel,
  type LogLineStream,
  type PayloadOf,
} from '@runyard/contracts';
import type { Bus, SubmitOptions } from '@runyard/messaging';
import { errorMessage, silentLogger, type WorkerLogger } from './worker-logger.js';

export interface RunLogLineOptions {
  /** Default `agent`. */
  stream?: LogLineStream;
  /** Default `info`. */
  level?: LogLineLevel;
}

/** Sends one batch; HeldRun passes its own `send` so batches carry the run's trace. */
export type SendAppend = (payload: PayloadOf<typeof AppendLogLines>, options: SubmitOptions) => Promise<LogAppendResult>;

export interface RunLogSettings {
  /** Where batches go: `bus.submit(AppendLogLines, …)`, unless `send` is given. */
  bus?: Bus;
  send?: SendAppend;
  tenantId: string;
  runId: string;
  /** Stable per writer: the worker id and the claim (lease token), so a retry after a timeout is recognised. */
  producerId: string;
  /** A batch goes out once this many lines are waiting; default (and at most) LOG_BATCH_MAX_LINES, 1000: fewer, larger transactions. */
  maxBatchLines?: number;
  /** …or this many bytes of text; default 256 KiB (under the service's 512 KiB per batch). */
  maxBatchBytes?: number;
  /** …or this long after the first waiting line arrived; default 200 ms. */
  flushIntervalMs?: number;
  /** Lines not yet acknowledged beyond which `append()` resolves only once there is room again; default 20,000. */
  maxBufferedLines?: number;
  /** Same, in bytes of text; default 16 MiB. */
  maxBufferedBytes?: number;
  /** First retry delay after a transient failure (doubling up to 5 s); default 100 ms. */
  retryDelayMs?: number;
  /** How long one batch's commit reply is awaited before the batch is submitted again (joining the queued one); default 5000 ms. */
  requestTimeoutMs?: number;
  logger?: WorkerLogger;
}

interface Entry {
  line: LogLineInput;
  bytes: number;
  /** When it was appended (ms, monotonic): it goes out at most flushIntervalMs later, as far as the service keeps up. */
  at: number;
}

/** Codes a batch is retried on (same producer id and batch_seq: the service stores it once). */
const RETRIABLE: ReadonlySet<ErrorCode> = new Set([ErrorCode.SERVICE_UNAVAILABLE, ErrorCode.UPSTREAM_TIMEOUT, ErrorCode.RATE_LIMITED, ErrorCode.INTERNAL_ERROR]);
/** Retriable codes that are the service's answer to the batch (not a lost or late one): the retry is a new message. */
const ANSWERS: ReadonlySet<ErrorCode> = new Set([ErrorCode.RATE_LIMITED, ErrorCode.INTERNAL_ERROR]);
/** After these the log takes nothing more (closed, full, or no such run): later lines are refused here. */
const LOG_GONE: ReadonlySet<ErrorCode> = new Set([ErrorCode.RUN_TERMINAL, ErrorCode.PAYLOAD_TOO_LARGE, ErrorCode.NOT_FOUND]);
const MAX_RETRY_DELAY_MS = 5000;
/** A line longer than this is cut here (the service would refuse a batch over 512 KiB); shorter ones the service cuts itself. */
const LOCAL_CUT_BYTES = 256 * 1024;
const PRODUCER_ID_MAX = 200;

/**
 * The producer id of one claim of a run: `<worker id>@<lease token>`. The lease token grows with each
 * claim of the run, so two claims never share an id (the worker id part only names it for people).
 */
export function logProducerId(workerId: string, leaseToken: number): string {
  const suffix = `@${leaseToken}`;
  return `${workerId.slice(0, PRODUCER_ID_MAX - suffix.length)}${suffix}`;
}

/**
 * The run's log as a producer writes it (`ctx.log`): lines are buffered and sent in batches of
 * `AppendLogLines` — when `maxBatchLines` or `maxBatchBytes` are waiting, or `flushIntervalMs` after
 * the first waiting line — one batch at a time, so the service numbers them in the order written.
 *
 * Each batch has the next `batch_seq` of this producer; a batch whose reply did not come (timeout,
 * service or bus down, rate limit, internal error) is sent again with the same seq until it is
 * acknowledged: the service replies only after the batch committed and stores a repeated batch once.
 * So an acknowledged line is durable in PostgreSQL, and a retry never duplicates one.
 *
 * Nothing is dropped silently: while lines cannot be delivered they stay buffered, and past
 * `maxBufferedLines` / `maxBufferedBytes` `append()` resolves only once acknowledgements made room
 * (await it to be held back; lines written without awaiting are still kept, in order, in memory).
 * A batch the service refuses for good (log closed or full, run unknown) is reported through the
 * logger with its line count, and later lines are refused the same way.
 *
 * Batches travel through the bus's durable work queue (JetStream; `Bus.submit`), named by run,
 * producer id and batch_seq: a batch is stored in NATS before the service sees it, waits there through a
 * transcripts restart or a database outage, and is appended by one replica, which replies only after
 * the commit. A retry after a timeout joins the queued batch rather than queueing a second one.
 */
export class RunLog {
  private readonly send: SendAppend;
  private readonly maxBatchLines: number;
  private readonly maxBatchBytes: number;
  private readonly flushIntervalMs: number;
  private readonly maxBufferedLines: number;
  private readonly maxBufferedBytes: number;
  private readonly retryDelayMs: number;
  private readonly requestTimeoutMs: number;
  private readonly logger: WorkerLogger;
  /** Lines not yet settled, oldest first; the batch in flight is at the front. */
  private readonly queue: Entry[] = [];
  private queuedBytes = 0;
  private nextBatchSeq = 0;
  /** Lines appended so far, and lines settled (acknowledged or refused for good) so far. */
  private appended = 0;
  private settled = 0;
  private acknowledgedLines = 0;
  private refusedLines = 0;
  private sending: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Send even a small batch now: a flush is waiting for lines up to this count to settle. */
  private flushUpTo = 0;
  private readonly flushWaiters: { upTo: number; resolve: () => void }[] = [];
  private readonly roomWaiters: (() => void)[] = [];
  private gone: DomainError | undefined;
  private abandoned = false;
  private wakeRetry: (() => void) | undefined;

  constructor(private readonly settings: RunLogSettings) {
    const { bus } = settings;
    if (settings.send === undefined && bus === undefined) throw new Error('RunLog needs a bus or a send function');
    this.send = settings.send ?? ((payload, options) => bus!.submit(AppendLogLines, payload, options));
    this.maxBatchLines = Math.min(settings.maxBatchLines ?? LOG_BATCH_MAX_LINES, LOG_BATCH_MAX_LINES);
    this.maxBatchBytes = Math.min(settings.maxBatchBytes ?? 256 * 1024, LOCAL_CUT_BYTES);
    this.flushIntervalMs = settings.flushIntervalMs ?? 200;
    this.maxBufferedLines = settings.maxBufferedLines ?? 20_000;
    this.maxBufferedBytes = settings.maxBufferedBytes ?? 16 * 1024 * 1024;
    this.retryDelayMs = settings.retryDelayMs ?? 100;
    this.requestTimeoutMs = settings.requestTimeoutMs ?? 5000;
    this.logger = settings.logger ?? silentLogger;
  }

  /** Lines acknowledged by the service (stored, or recognised as stored by a retry). */
  get acknowledged(): number {
    return this.acknowledgedLines;
  }

  /** Lines given up: refused by the service for good, or still buffered when the run left this worker. */
  get refused(): number {
    return this.refusedLines;
  }

  /** Lines not yet acknowledged or refused. */
  get buffered(): number {
    return this.queue.length;
  }

  /**
   * Buffers one line (never blocks on the network). Resolves at once while the buffer has room;
   * past its bound, once acknowledgements made room again.
   */
  append(text: string, options: RunLogLineOptions = {}): Promise<void> {
    if (this.abandoned) {
      // The run is no longer this worker's (its executor was told to stop): nothing more is written.
      this.refusedLines++;
      this.logger.debug({ run_id: this.settings.runId }, 'log line after the run left this worker: not sent');
      return Promise.resolve();
    }
    const line: LogLineInput = { stream: options.stream ?? 'agent', level: options.level ?? 'info', time: new Date().toISOString(), text: cutLongLine(text) };
    this.queue.push({ line, bytes: Buffer.byteLength(line.text, 'utf8'), at: performance.now() });
    this.queuedBytes += this.queue[this.queue.length - 1].bytes;
    this.appended++;
    this.pump();
    if (this.hasRoom()) return Promise.resolve();
    return new Promise((resolve) => this.roomWaiters.push(resolve));
  }

  /** Sends what is buffered now and resolves once all of it is settled (acknowledged, or refused for good). */
  flush(): Promise<void> {
    const upTo = this.appended;
    if (this.settled >= upTo) return Promise.resolve();
    this.flushUpTo = Math.max(this.flushUpTo, upTo);
    const settledNow = new Promise<void>((resolve) => this.flushWaiters.push({ upTo, resolve }));
    this.pump();
    return settledNow;
  }

  /**
   * Stops retrying (the run is no longer this worker's): what is still buffered is given up, with a
   * warning naming how many lines, and every waiter is released.
   */
  abandon(reason: string): void {
    if (this.abandoned) return;
    this.abandoned = true;
    clearTimeout(this.timer);
    this.wakeRetry?.();
    if (this.sending === undefined) this.giveUpBuffered(reason);
    else void this.sending.then(() => this.giveUpBuffered(reason));
  }

  // ---- sending ----

  private pump(): void {
    if (this.sending !== undefined || this.queue.length === 0 || this.abandoned) return;
    if (this.gone !== undefined) {
      this.refuse(this.queue.length, this.gone);
      return;
    }
    const due = this.queue.length >= this.maxBatchLines || this.queuedBytes >= this.maxBatchBytes || this.flushUpTo > this.settled;
    if (!due) {
      // Due flushIntervalMs after the oldest waiting line arrived (it may have waited behind a batch in
      // flight already). Unref'd: a waiting batch alone does not keep a process alive (HeldRun flushes
      // before reporting).
      const dueIn = Math.max(0, this.queue[0].at + this.flushIntervalMs - performance.now());
      this.timer ??= setTimeout(() => {
        this.timer = undefined;
        this.startSending();
      }, dueIn).unref();
      return;
    }
    this.startSending();
  }

  private startSending(): void {
    if (this.sending !== undefined || this.queue.length === 0 || this.abandoned) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.sending = this.sendBatch().finally(() => {
      this.sending = undefined;
      this.pump();
    });
  }

  /** Sends the batch at the front of the queue until it is acknowledged or refused for good. */
  private async sendBatch(): Promise<void> {
    let count = 0;
    let bytes = 0;
    while (count < this.queue.length && count < this.maxBatchLines && (count === 0 || bytes + this.queue[count].bytes <= this.maxBatchBytes)) {
      bytes += this.queue[count].bytes;
      count++;
    }
    const payload: PayloadOf<typeof AppendLogLines> = {
      tenant_id: this.settings.tenantId,
      run_id: this.settings.runId,
      producer: { id: this.settings.producerId, batch_seq: this.nextBatchSeq++ },
      lines: this.queue.slice(0, count).map((entry) => entry.line),
    };
    // Answers the service gave (rate limited, internal error): each retry after one is a new message.
    let answered = 0;
    for (let attempt = 1; !this.abandoned; attempt++) {
      try {
        const reply = await this.send(payload, { messageId: batchMessageId(payload, answered), timeoutMs: this.requestTimeoutMs });
        this.acknowledgedLines += reply.accepted;
        if (reply.refused > 0) {
          this.gone = new DomainError(ErrorCode.PAYLOAD_TOO_LARGE, 'the run’s log reached its limit');
          this.logger.warn({ run_id: this.settings.runId, lines: reply.refused }, 'log lines refused: the run’s log reached its limit');
          this.refusedLines += reply.refused;
        }
        this.take(count);
        return;
      } catch (error) {
        const code = error instanceof DomainError ? error.code : undefined;
        if (code === undefined || !RETRIABLE.has(code)) {
          // Refused for good; for a closed or full log (or an unknown run) so is every later line.
          const refusal = error instanceof DomainError ? error : new DomainError(ErrorCode.INTERNAL_ERROR, errorMessage(error));
          if (code !== undefined && LOG_GONE.has(code)) this.gone = refusal;
          this.refuse(count, refusal);
          return;
        }
        if (code !== undefined && ANSWERS.has(code)) answered++;
        const retryAfterSeconds = error instanceof DomainError ? error.details?.retryAfterSeconds : undefined;
        const delayMs = typeof retryAfterSeconds === 'number' ? retryAfterSeconds * 1000 : Math.min(MAX_RETRY_DELAY_MS, this.retryDelayMs * 2 ** (attempt - 1));
        if (attempt === 1 || attempt % 10 === 0) {
          this.logger.warn({ run_id: this.settings.runId, code, attempt, lines: this.queue.length }, 'log batch not acknowledged; retrying it');
        }
        await this.pause(delayMs);
      }
    }
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wakeRetry = done;
    });
  }

  // ---- settling ----

  private refuse(count: number, refusal: DomainError): void {
    const first = this.refusedLines === 0;
    const context = { run_id: this.settings.runId, code: refusal.code, lines: count, error: refusal.message };
    if (first) this.logger.warn(context, 'log lines refused by the transcripts service');
    else this.logger.debug(context, 'log lines refused by the transcripts service');
    this.refusedLines += count;
    this.take(count);
  }

  private giveUpBuffered(reason: string): void {
    const count = this.queue.length;
    if (count === 0) return;
    this.logger.warn({ run_id: this.settings.runId, lines: count, reason }, 'log lines not delivered: the run is no longer this worker’s');
    this.refusedLines += count;
    this.take(count);
  }

  /** The first `count` lines are settled: drop them and release whoever waited for that. */
  private take(count: number): void {
    for (const entry of this.queue.splice(0, count)) this.queuedBytes -= entry.bytes;
    this.settled += count;
    if (this.hasRoom()) for (const resolve of this.roomWaiters.splice(0)) resolve();
    for (let i = this.flushWaiters.length - 1; i >= 0; i--) {
      const waiter = this.flushWaiters[i];
      if (waiter.upTo <= this.settled) {
        this.flushWaiters.splice(i, 1);
        waiter.resolve();
      }
    }
  }

  private hasRoom(): boolean {
    return this.abandoned || (this.queue.length < this.maxBufferedLines && this.queuedBytes < this.maxBufferedBytes);
  }
}

/**
 * The batch's name in the work queue: what the service dedupes on (run, producer, batch_seq), and how
 * many answers it got before (a retry after an answer is a new message; after a timeout it is the same
 * one, so it joins the queued batch). The run is part of it: a producer id is only unique per run
 * (lease tokens of different runs coincide).
 */
function batchMessageId(payload: PayloadOf<typeof AppendLogLines>, answered: number): string {
  const id = `${payload.run_id}/${payload.producer!.id}/${payload.producer!.batch_seq}`;
  return answered === 0 ? id : `${id}/${answered}`;
}

/**
 * A line too long for one batch is cut here, on a character boundary, ending in the same kind of
 * marker the service writes (so it is never silently shortened); shorter lines go as they are.
 */
function cutLongLine(text: string): string {
  if (text.length * 3 <= LOCAL_CUT_BYTES) return text;
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes <= LOCAL_CUT_BYTES) return text;
  const marker = (cut: number) => ` …[truncated: ${cut} bytes]`;
  const room = LOG_LINE_TEXT_MAX_BYTES - Buffer.byteLength(marker(bytes), 'utf8');
  const kept = new TextDecoder('utf-8').decode(Buffer.from(text, 'utf8').subarray(0, room), { stream: true });
  return kept + marker(bytes - Buffer.byteLength(kept, 'utf8'));
}
