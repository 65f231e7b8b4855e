import type { Evidence, PlanStepStatus, PlanStepView, RunView, TraceSpanKind, TranscriptSegmentKind, TranscriptSegmentView, WaitView } from '@runyard/contracts';
import type { RunLogLineOptions } from './run-log.js';
import type { WorkerLogger } from './worker-logger.js';

/**
 * An agent, as the worker sees it: it gets one claimed run and resolves with the run's output (a JSON
 * object, or undefined for none), or throws to fail the run with the error's message. It must stop
 * soon after `ctx.signal` aborts (cancel, lost lease, shutdown); what it returns then is ignored.
 *
 * Executors are re-run from the start when a run resumes after an approval or an input, and when a
 * run is retried after a crash. Everything the context writes is keyed (`step`, `requestApproval`,
 * `requestInput`, `postMessage`), so doing the same thing again finds what the first pass made
 * instead of duplicating it; `ctx.steps` tells which steps are already done.
 */
export type Executor = (ctx: ExecutorContext) => Promise<Record<string, unknown> | undefined>;

export interface StepUpdate {
  /** Required when the step is new. */
  title?: string;
  status?: PlanStepStatus;
  /** Appended to the step's evidence. */
  evidence?: Evidence[];
}

export interface ApprovalRequest {
  /** Unique within the run; asking again with the same key returns the first answer. */
  key: string;
  prompt: string;
  /** What is to be approved (the action and its arguments), shown to the approver. */
  details?: Record<string, unknown>;
  /** Unanswered this long, the wait and the run expire. */
  timeoutSeconds?: number;
}

export interface InputRequest {
  key: string;
  prompt: string;
  /** JSON Schema the answer must satisfy (checked by the runs service). */
  schema?: Record<string, unknown>;
  timeoutSeconds?: number;
}

export interface SummaryOptions {
  /** Default `execution`. */
  kind?: TranscriptSegmentKind;
  /** A JSON object (at most 16 KiB). */
  metadata?: Record<string, unknown>;
}

export interface ApprovalAnswer {
  approved: boolean;
  decision: 'approved' | 'denied';
  /** The approver's note, if any. */
  reason: string | null;
}

export interface ExecutorContext {
  /** The run as claimed (status `running`). */
  readonly run: RunView;
  /** 1 on the first claim; higher on a resume or a retry. */
  readonly attempt: number;
  /** Aborts when the run must stop; `signal.reason` is a `RunStopped` saying why. */
  readonly signal: AbortSignal;
  /** The run's plan steps as of the claim (work a previous pass already did). */
  readonly steps: readonly PlanStepView[];
  /** The run's waits as of the claim; answered ones carry their answers. */
  readonly waits: readonly WaitView[];
  /** The worker's own process log, the run's id attached (operators' diagnostics; not the run's log). */
  readonly logger: WorkerLogger;
  /**
   * Appends a line to the run's log (stream default `agent`, level default `info`). Does not wait for
   * the network: lines are buffered and sent in batches (by size and every 200 ms), and every line
   * is delivered before the run's outcome is reported. While the transcripts service cannot be
   * reached, lines stay buffered; past the buffer's bound (20,000 lines or 16 MiB) the promise
   * resolves only once there is room again — await it to be held back instead of growing memory.
   */
  log(text: string, options?: RunLogLineOptions): Promise<void>;
  /** Adds the step with `key` (title required then) or updates it. */
  step(key: string, update: StepUpdate): Promise<PlanStepView>;
  /**
   * The answer to an approval. The first time a key is asked, the run is suspended until a principal
   * answers: this throws `RunSuspended` (let it propagate), and the executor runs again, from the
   * start, once the run resumes; then the same call returns the answer at once.
   */
  requestApproval(request: ApprovalRequest): Promise<ApprovalAnswer>;
  /** Like `requestApproval`, for a structured answer: resolves with the answer object. */
  requestInput(request: InputRequest): Promise<Record<string, unknown>>;
  /** Progress for watchers; changes no state. */
  progress(message?: string, data?: Record<string, unknown>): Promise<void>;
  /** An assistant message into the run's session chat, once per key. */
  postMessage(key: string, content: string, metadata?: Record<string, unknown>): Promise<void>;
  /**
   * A transcript segment for the run (kind `execution` unless given): a derived summary of what it
   * did, stored by the transcripts service while this worker holds the lease. Once per key.
   */
  summary(key: string, content: string, options?: SummaryOptions): Promise<TranscriptSegmentView>;
  /**
   * Records a trace span around `work` (a tool call, a model call…): its start, end, and status from
   * the outcome (`error` with the message when it throws; the error is rethrown), under the span it is
   * called in (the run's execution span at the top). Attributes are bounded (long strings cut); add
   * results with `span.setAttributes`. Spans are sent in batches; recording them never fails the run.
   */
  span<T>(name: string, kind: TraceSpanKind, work: (span: SpanHandle) => Promise<T>, attributes?: Record<string, unknown>): Promise<T>;
}

/** The span `ctx.span` runs its work in. */
export interface SpanHandle {
  readonly traceId: string;
  readonly spanId: string;
  /** Merged into the span's attributes (recorded when it ends). */
  setAttributes(attributes: Record<string, unknown>): void;
}

/**
 * Thrown by `requestApproval` / `requestInput` when they opened a wait: the run is suspended and no
 * longer this worker's. Executors must let it propagate; the worker reports nothing for the run.
 */
export class RunSuspended extends Error {
  constructor(readonly waitKey: string) {
    super(`The run is suspended until wait "${waitKey}" is answered`);
    this.name = 'RunSuspended';
  }
}

/** Why a run's signal aborted. */
export type StopReason = 'cancelled' | 'lease_lost' | 'suspended' | 'shutdown';

/** The `reason` of an aborted `ctx.signal`. */
export class RunStopped extends Error {
  constructor(readonly reason: StopReason) {
    super(`The run was stopped (${reason})`);
    this.name = 'RunStopped';
  }
}
