import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash } from 'node:crypto';
import { TRACE_SPAN_NAME_MAX_CHARS, TRACE_SPAN_STATUS_MESSAGE_MAX_CHARS, type TraceSpanInput, type TraceSpanKind, type TraceSpanStatus, type WaitKind, type WaitView } from '@runyard/contracts';
import { newSpanId } from '@runyard/messaging';
import { RunStopped, RunSuspended, type SpanHandle } from '../executor.js';
import { errorMessage, type WorkerLogger } from '../worker-logger.js';
import { boundAttributes } from './span-attributes.js';
import { SpanBuffer, type SpanBufferSettings } from './span-buffer.js';

export interface RunSpansSettings {
  /** Sends one batch of spans (RecordTraceSpans), with the run's trace headers. */
  send: SpanBufferSettings['send'];
  tenantId: string;
  runId: string;
  /** The run's trace (that of the request that created it); without one, a trace id derived from the run id. */
  traceId: string | undefined;
  /**
   * The span of the request that created the run, as the runs service saw it: the root span's parent,
   * linking the execution to that request. Used only with `traceId` (a derived trace has no caller).
   */
  parentSpanId?: string | undefined;
  logger: WorkerLogger;
  /** Batching of the span buffer (tests). */
  maxBatchSpans?: number;
  flushMs?: number;
}

interface SpanEnd {
  status: TraceSpanStatus;
  message?: string;
  attributes?: Record<string, unknown>;
}

/** One span in progress: sent when it starts (if it is still open when its batch leaves) and when it ends. */
class OpenSpan implements SpanHandle {
  private ended = false;
  private attributes: Record<string, unknown>;

  constructor(
    private readonly owner: RunSpans,
    readonly traceId: string,
    readonly spanId: string,
    private readonly parentSpanId: string | undefined,
    private readonly name: string,
    private readonly kind: TraceSpanKind,
    attributes: Record<string, unknown> | undefined,
    private readonly startTime = new Date(),
  ) {
    this.attributes = boundAttributes(attributes);
    this.owner.emit(this.input());
  }

  setAttributes(attributes: Record<string, unknown>): void {
    if (this.ended) return;
    this.attributes = boundAttributes({ ...this.attributes, ...attributes });
  }

  end({ status, message, attributes }: SpanEnd): void {
    if (this.ended) return;
    if (attributes !== undefined) this.setAttributes(attributes);
    this.ended = true;
    const endTime = new Date(Math.max(Date.now(), this.startTime.getTime()));
    this.owner.emit(this.input(endTime, status, message));
  }

  private input(endTime?: Date, status: TraceSpanStatus = 'unset', message?: string): TraceSpanInput {
    const span: TraceSpanInput = {
      trace_id: this.traceId,
      span_id: this.spanId,
      name: this.name.slice(0, TRACE_SPAN_NAME_MAX_CHARS) || 'span',
      kind: this.kind,
      attributes: this.attributes,
      start_time: this.startTime.toISOString(),
      status,
    };
    if (this.parentSpanId !== undefined) span.parent_span_id = this.parentSpanId;
    if (endTime !== undefined) span.end_time = endTime.toISOString();
    if (message !== undefined && message.length > 0) span.status_message = message.slice(0, TRACE_SPAN_STATUS_MESSAGE_MAX_CHARS);
    return span;
  }
}

/** A span id as the recorder takes it: 16 lowercase hex digits, not all zeros (W3C). */
const SPAN_ID = /^[0-9a-f]{16}$/;
const NO_SPAN = '0000000000000000';

/** The span the current async work runs in, per run (one process holds many runs). */
const currentSpan = new AsyncLocalStorage<{ owner: RunSpans; span: OpenSpan }>();

/** How a span ends when its work threw: a suspension is the normal end of a pass, a stop is not a failure of the span. */
function endOnError(error: unknown): SpanEnd {
  if (error instanceof RunSuspended) return { status: 'ok', attributes: { suspended: true } };
  if (error instanceof RunStopped) return { status: 'unset', attributes: { stopped: error.reason } };
  return { status: 'error', message: errorMessage(error) };
}

/**
 * The spans of one pass of a run (one claim): the run's execution as the root, spans opened by the
 * executor (`ctx.span`) and by the context (steps, approvals and inputs, status reports), each under
 * the span it was opened in. Buffered and sent in batches; recording never fails the run.
 */
export class RunSpans {
  readonly traceId: string;
  private root: OpenSpan | undefined;
  private readonly rootParentSpanId: string | undefined;
  private readonly buffer: SpanBuffer;

  constructor(private readonly settings: RunSpansSettings) {
    // A run without a trace still gets one id for all its passes: its own id is 32 hex digits.
    this.traceId = settings.traceId ?? settings.runId.replaceAll('-', '').toLowerCase();
    // A malformed parent would make the recorder refuse every batch with the root span: then none.
    const parent = settings.parentSpanId;
    this.rootParentSpanId = settings.traceId !== undefined && parent !== undefined && SPAN_ID.test(parent) && parent !== NO_SPAN ? parent : undefined;
    this.buffer = new SpanBuffer(settings);
  }

  /** Opens the root span: the run's execution on this worker. */
  startRun(attributes: Record<string, unknown>): void {
    this.root ??= new OpenSpan(this, this.traceId, newSpanId(), this.rootParentSpanId, 'run', 'internal', attributes);
  }

  /** Ends the root span and sends every span still buffered; resolves when they were answered (never rejects). */
  async endRun(end: SpanEnd): Promise<void> {
    this.root?.end(end);
    await this.buffer.flush();
  }

  /** Runs `work` in a new span under the current one; the span ends with the outcome of `work`. */
  async span<T>(name: string, kind: TraceSpanKind, work: (span: SpanHandle) => Promise<T>, attributes?: Record<string, unknown>, spanId?: string): Promise<T> {
    const span = new OpenSpan(this, this.traceId, spanId ?? newSpanId(), this.current()?.spanId, name, kind, attributes);
    try {
      const result = await currentSpan.run({ owner: this, span }, () => work(span));
      span.end({ status: 'ok' });
      return result;
    } catch (error) {
      span.end(endOnError(error));
      throw error;
    }
  }

  /**
   * An approval or input request as an `approval` span, from the request to the suspension of the
   * run. Its id comes from the run and the wait's key, so the pass that resumes with the answer
   * records the answer on the same span.
   */
  wait(kind: WaitKind, key: string, work: () => Promise<WaitView>): Promise<WaitView> {
    const spanId = createHash('sha256').update(`${this.settings.runId}\0wait\0${key}`).digest('hex').slice(0, 16);
    return this.span(
      `${kind} ${key}`,
      'approval',
      async (span) => {
        const wait = await work();
        if (wait.answer !== null) {
          const { decision, reason, input } = wait.answer;
          span.setAttributes({ 'answer.decision': decision, ...(reason ? { 'answer.reason': reason } : {}), ...(input ? { 'answer.input': input } : {}) });
        }
        return wait;
      },
      { 'wait.kind': kind, 'wait.key': key },
      spanId === NO_SPAN ? undefined : spanId,
    );
  }

  /** A report that changes the run's state (a plan step, the outcome) as a `state_change` span. */
  stateChange<T>(name: string, attributes: Record<string, unknown>, work: () => Promise<T>): Promise<T> {
    return this.span(name, 'state_change', work, attributes);
  }

  /** @internal For OpenSpan: a span started or ended. */
  emit(span: TraceSpanInput): void {
    try {
      this.buffer.put(span);
    } catch (error) {
      this.settings.logger.debug({ run_id: this.settings.runId, error: errorMessage(error) }, 'could not buffer a trace span');
    }
  }

  /** The span the caller runs in: the innermost open span of this run, else the root. */
  private current(): OpenSpan | undefined {
    const store = currentSpan.getStore();
    return store?.owner === this ? store.span : this.root;
  }
}
