import { TRACE_SPAN_BATCH_MAX_BYTES, TRACE_SPAN_BATCH_MAX_SPANS, type PayloadOf, type RecordTraceSpans, type TraceSpanInput, type TraceSpansRecorded } from '@runyard/contracts';
import { errorMessage, type WorkerLogger } from '../worker-logger.js';

export interface SpanBufferSettings {
  /** Sends one batch (RecordTraceSpans), with the run's trace headers. */
  send: (payload: PayloadOf<typeof RecordTraceSpans>) => Promise<TraceSpansRecorded>;
  tenantId: string;
  runId: string;
  logger: WorkerLogger;
  /** A batch goes out once it holds this many spans; default 100. */
  maxBatchSpans?: number;
  /** …or after this long; default 250 ms. */
  flushMs?: number;
}

/** Half the recorder's batch limit: estimates of a span's size may be off, and a message has headers too. */
const MAX_BATCH_BYTES = Math.floor(TRACE_SPAN_BATCH_MAX_BYTES / 2);

/**
 * A run's spans on their way to the transcripts service: buffered (a span re-sent before its batch
 * left replaces its earlier version, so a short span goes out once, ended) and sent in batches by
 * size and time, one batch at a time. Recording is best effort: a failure is logged (a warning the
 * first time, then at debug) and never reaches the run.
 */
export class SpanBuffer {
  private pending = new Map<string, TraceSpanInput>();
  private pendingBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private sending: Promise<void> = Promise.resolve();
  private warned = false;
  private readonly maxBatchSpans: number;
  private readonly flushMs: number;

  constructor(private readonly settings: SpanBufferSettings) {
    this.maxBatchSpans = Math.min(settings.maxBatchSpans ?? 100, TRACE_SPAN_BATCH_MAX_SPANS);
    this.flushMs = settings.flushMs ?? 250;
  }

  put(span: TraceSpanInput): void {
    const bytes = Buffer.byteLength(JSON.stringify(span), 'utf8');
    if (!this.pending.has(span.span_id) && (this.pending.size >= this.maxBatchSpans || this.pendingBytes + bytes > MAX_BATCH_BYTES)) void this.flush();
    this.pending.set(span.span_id, span);
    this.pendingBytes += bytes;
    if (this.pending.size >= this.maxBatchSpans) {
      void this.flush();
      return;
    }
    if (this.timer === undefined) {
      this.timer = setTimeout(() => void this.flush(), this.flushMs);
      this.timer.unref();
    }
  }

  /** Sends what is buffered; resolves once every batch so far was answered (or failed). Never rejects. */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = [...this.pending.values()];
    this.pending = new Map();
    this.pendingBytes = 0;
    if (batch.length > 0) this.sending = this.sending.then(() => this.send(batch));
    return this.sending;
  }

  private async send(spans: TraceSpanInput[]): Promise<void> {
    const { send, tenantId, runId } = this.settings;
    try {
      const reply = await send({ tenant_id: tenantId, run_id: runId, spans });
      if (reply.refused > 0) this.complain({ refused: reply.refused }, 'the run’s trace is full: spans were not recorded');
    } catch (error) {
      this.complain({ spans: spans.length, error: errorMessage(error) }, 'could not record trace spans');
    }
  }

  private complain(extra: Record<string, unknown>, message: string): void {
    const log = this.settings.logger;
    if (this.warned) log.debug({ run_id: this.settings.runId, ...extra }, message);
    else log.warn({ run_id: this.settings.runId, ...extra }, `${message} (further failures of this run are logged at debug)`);
    this.warned = true;
  }
}
