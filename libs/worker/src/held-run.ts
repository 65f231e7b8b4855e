import {
  AppendLogLines,
  CompleteRun,
  DomainError,
  ErrorCode,
  FailRun,
  FinishCancel,
  PostRunMessage,
  RecordTraceSpans,
  PostRunTranscriptSegment,
  ReleaseRun,
  RenewLease,
  ReportProgress,
  RequestWait,
  UpsertPlanStep,
  type AnyCommand,
  type ClaimedRun,
  type PayloadOf,
  type ReplyOf,
  type RunStatusChangedData,
  type WaitKind,
  type WaitView,
  TERMINAL_RUN_STATUSES,
} from '@runyard/contracts';
import { continueTraceId, traceHeaders, type Bus, type RequestOptions, type TraceContext } from '@runyard/messaging';
import { RunStopped, RunSuspended, type ApprovalAnswer, type Executor, type ExecutorContext, type StopReason } from './executor.js';
import { logProducerId, RunLog } from './run-log.js';
import { runSpanEnd } from './spans/run-span-end.js';
import { RunSpans } from './spans/run-spans.js';
import { errorMessage, type WorkerLogger } from './worker-logger.js';

/**
 * Where a held run stands, as far as this worker knows:
 *  - running:    ours; the executor works and the heartbeat renews the lease.
 *  - cancelling: a cancel was requested; the executor was told to stop and the worker will call
 *                FinishCancel once it has.
 *  - suspended:  the executor opened a wait; the run is waiting and no longer ours.
 *  - lost:       the lease is gone (expired, taken over, run ended elsewhere): write nothing more.
 *  - released:   given back at shutdown: write nothing more.
 *  - done:       the outcome was reported (or could not be).
 */
type HeldState = 'running' | 'cancelling' | 'suspended' | 'lost' | 'released' | 'done';

export interface HeldRunSettings {
  bus: Bus;
  workerId: string;
  leaseTtlMs: number;
  heartbeatMs: number;
  logger: WorkerLogger;
}

type WaitFields = { prompt: string; details?: Record<string, unknown>; schema?: Record<string, unknown>; timeout_seconds?: number };

type Outcome = { kind: 'output'; output: unknown } | { kind: 'error'; error: unknown };

/** Codes that say the lease is no longer ours, whatever we still believe. */
const LEASE_GONE: ReadonlySet<ErrorCode> = new Set([ErrorCode.LEASE_LOST, ErrorCode.RUN_TERMINAL, ErrorCode.NOT_FOUND]);
/** Codes worth retrying a final report on: the request may not have reached the runs service. */
const TRANSIENT: ReadonlySet<ErrorCode> = new Set([ErrorCode.SERVICE_UNAVAILABLE, ErrorCode.UPSTREAM_TIMEOUT]);
const REPORT_ATTEMPTS = 5;
const REPORT_BACKOFF_MS = 200;
/** FailRun's failure_message limit. */
const FAILURE_MESSAGE_MAX = 10_000;

function codeOf(error: unknown): ErrorCode | undefined {
  return error instanceof DomainError ? error.code : undefined;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * One claimed run in a worker's hands: runs its executor with a context bound to the lease, keeps the
 * lease alive, reacts to cancels and to losing the lease, and reports the outcome exactly once — or
 * not at all when the run is no longer ours (suspended, lost, released).
 */
export class HeldRun {
  readonly runId: string;
  private state: HeldState = 'running';
  private readonly abort = new AbortController();
  private heartbeat: NodeJS.Timeout | undefined;
  private leaseTimer: NodeJS.Timeout | undefined;
  private readonly lease: { tenant_id: string; run_id: string; lease_token: number };
  private readonly log: WorkerLogger;
  private readonly claimedAt: number;
  /** The final report is on its way: the status change it causes is no news. */
  private reporting = false;
  /** The trace of the request that created the run: every request made for it carries it on. */
  private readonly trace: TraceContext | undefined;
  /** `ctx.log`: the run's log lines, buffered and sent in batches by this claim. */
  private readonly runLog: RunLog;
  /** The trace spans of this claim: its execution, the executor's `ctx.span`s, steps, waits and reports. */
  private readonly spans: RunSpans;

  /** `leaseStartedAt`: when the claim was sent, so the local view of the lease never outlives the server's. */
  constructor(
    private readonly claimed: ClaimedRun,
    private readonly settings: HeldRunSettings,
    leaseStartedAt: number,
  ) {
    this.runId = claimed.run.id;
    this.lease = { tenant_id: claimed.run.tenant_id, run_id: claimed.run.id, lease_token: claimed.lease_token };
    this.claimedAt = Date.parse(claimed.run.updated_at);
    this.trace = claimed.run.trace_id ? continueTraceId(claimed.run.trace_id) : undefined;
    this.log = withContext(settings.logger, { run_id: claimed.run.id, attempt: claimed.run.attempt, ...(this.trace ? { trace_id: this.trace.traceId } : {}) });
    this.extendLease(leaseStartedAt);
    this.runLog = new RunLog({
      // Through the work queue, with the run's trace like every request of this run.
      send: (payload, options) => this.settings.bus.submit(AppendLogLines, payload, this.traced(options)),
      tenantId: claimed.run.tenant_id,
      runId: claimed.run.id,
      producerId: logProducerId(settings.workerId, claimed.lease_token),
      logger: this.log,
    });
    this.spans = new RunSpans({
      send: (payload) => this.send(RecordTraceSpans, payload),
      tenantId: claimed.run.tenant_id,
      runId: claimed.run.id,
      traceId: this.trace?.traceId,
      // The root span hangs under the request that created the run, as the runs service saw it.
      parentSpanId: claimed.run.trace_parent_span_id ?? undefined,
      logger: this.log,
    });
  }

  /** Runs the executor and reports its outcome; resolves when the run no longer needs this worker. */
  async execute(executor: Executor): Promise<void> {
    this.scheduleHeartbeat();
    this.spans.startRun({ 'run.attempt': this.claimed.run.attempt, 'run.executor': this.claimed.run.route.executor, 'worker.id': this.settings.workerId });
    let outcome: Outcome;
    try {
      outcome = { kind: 'output', output: await Promise.resolve().then(() => executor(this.context())) };
    } catch (error) {
      outcome = { kind: 'error', error };
    }
    await this.deliverLog();
    this.reporting = true;
    const stateBeforeReport = this.state;
    try {
      await this.report(outcome);
    } finally {
      const stateAfterReport = this.state;
      if (this.holdsLease()) this.state = 'done';
      this.stopTimers();
      await this.spans.endRun(runSpanEnd(outcome, stateBeforeReport, stateAfterReport));
    }
  }

  /** Pushed from the event log: the run changed status. Reacts only to changes of this very claim. */
  onStatusChanged(change: RunStatusChangedData): void {
    if (!this.isAboutThisClaim(change) || (this.reporting && TERMINAL_RUN_STATUSES.has(change.to))) return;
    if (change.to === 'cancelling') this.requestCancel('pushed');
    else if (change.to === 'waiting_for_approval' || change.to === 'waiting_for_input') this.stop('suspended', 'suspended');
    else if (change.to !== 'running') this.stop('lost', 'lease_lost', `the run moved to ${change.to}`);
  }

  /**
   * Shutdown: gives the run back so another worker takes it at once (a cancelled one is finished
   * instead). The executor is aborted; nothing it does afterwards is written.
   */
  async release(): Promise<void> {
    const wasCancelling = this.state === 'cancelling';
    if (this.state !== 'running' && !wasCancelling) return;
    this.stop('released', 'shutdown');
    try {
      if (wasCancelling) await this.send(FinishCancel, this.lease);
      else await this.send(ReleaseRun, this.lease);
      this.log.info({}, wasCancelling ? 'cancelled run finished at shutdown' : 'run released');
    } catch (error) {
      // The lease then simply expires and the runs service recovers the run.
      this.log.warn({ code: codeOf(error), error: errorMessage(error) }, 'could not release the run; it is recovered when its lease expires');
    }
  }

  // ---- the lease ----

  /**
   * A status change belongs to this claim when it left a status the claim holds (running,
   * cancelling), by this worker, on this attempt, no earlier than the claim: the event log may still
   * deliver changes of an earlier claim of the same run after this one was made.
   */
  private isAboutThisClaim({ run, from }: RunStatusChangedData): boolean {
    return (
      run.id === this.runId &&
      (from === 'running' || from === 'cancelling') &&
      run.worker_id === this.settings.workerId &&
      run.attempt === this.claimed.run.attempt &&
      Date.parse(run.updated_at) >= this.claimedAt
    );
  }

  private scheduleHeartbeat(): void {
    if (!this.holdsLease()) return;
    this.heartbeat = setTimeout(() => void this.renew().finally(() => this.scheduleHeartbeat()), this.settings.heartbeatMs);
  }

  private async renew(): Promise<void> {
    const sentAt = Date.now();
    try {
      const renewal = await this.send(
        RenewLease,
        { ...this.lease, lease_ttl_ms: this.settings.leaseTtlMs },
        { timeoutMs: Math.max(1000, this.settings.heartbeatMs) },
      );
      if (!this.holdsLease()) return;
      this.extendLease(sentAt);
      // The fallback when the pushed status change was missed.
      if (renewal.cancel_requested) this.requestCancel('heartbeat');
    } catch (error) {
      const code = codeOf(error);
      if (code !== undefined && LEASE_GONE.has(code)) this.stop('lost', 'lease_lost', `renewal refused: ${code}`);
      else this.log.warn({ code, error: errorMessage(error) }, 'lease renewal failed; retrying on the next heartbeat');
    }
  }

  /** The lease is good until `ttl` after `sentAt` (the server started it later, never earlier). */
  private extendLease(sentAt: number): void {
    clearTimeout(this.leaseTimer);
    const remaining = sentAt + this.settings.leaseTtlMs - Date.now();
    this.leaseTimer = setTimeout(() => this.stop('lost', 'lease_lost', 'the lease expired before it could be renewed'), Math.max(0, remaining));
  }

  private holdsLease(): boolean {
    return this.state === 'running' || this.state === 'cancelling';
  }

  private requestCancel(via: 'pushed' | 'heartbeat'): void {
    if (this.state !== 'running') return;
    this.state = 'cancelling';
    this.log.info({ via }, 'cancel requested; stopping the executor');
    this.abort.abort(new RunStopped('cancelled'));
  }

  /** The run is no longer ours to write: stop the executor and the lease keeping. */
  private stop(state: 'suspended' | 'lost' | 'released', reason: StopReason, detail?: string): void {
    if (!this.holdsLease()) return;
    this.state = state;
    this.stopTimers();
    if (state === 'lost') this.log.warn({ detail }, 'lease lost; the executor is stopped and nothing more is written');
    if (!this.abort.signal.aborted) this.abort.abort(new RunStopped(reason));
  }

  private stopTimers(): void {
    clearTimeout(this.heartbeat);
    clearTimeout(this.leaseTimer);
    this.heartbeat = undefined;
    this.leaseTimer = undefined;
  }

  // ---- the outcome ----

  private async report(outcome: Outcome): Promise<void> {
    if (outcome.kind === 'error' && !(outcome.error instanceof RunSuspended) && !(outcome.error instanceof RunStopped)) {
      this.log.debug({ error: errorMessage(outcome.error) }, 'executor failed');
    }
    switch (this.state) {
      case 'suspended':
      case 'lost':
      case 'released':
      case 'done':
        return;
      case 'cancelling':
        await this.finish(FinishCancel, this.lease);
        return;
      case 'running':
        break;
    }
    if (outcome.kind === 'error') {
      await this.finish(FailRun, { ...this.lease, failure_message: failureMessage(outcome.error) });
    } else if (outcome.output === undefined || isPlainObject(outcome.output)) {
      await this.finish(CompleteRun, { ...this.lease, ...(outcome.output === undefined ? {} : { output: outcome.output }) });
    } else {
      await this.finish(FailRun, { ...this.lease, failure_message: 'the executor returned an output that is not a JSON object' });
    }
  }

  /**
   * Sends the final report, retrying while the lease holds if it may not have arrived (a retry that
   * finds the run ended was most likely preceded by an attempt that arrived). A cancel that raced in
   * turns a completion or failure into FinishCancel (the run can only be cancelled now).
   */
  private finish<C extends typeof CompleteRun | typeof FailRun | typeof FinishCancel>(command: C, payload: PayloadOf<C>): Promise<void> {
    const status = command.subject === CompleteRun.subject ? 'completed' : command.subject === FailRun.subject ? 'failed' : 'cancelled';
    return this.spans.stateChange(`run ${status}`, { 'run.status': status }, () => this.sendFinish(command, payload));
  }

  private async sendFinish<C extends typeof CompleteRun | typeof FailRun | typeof FinishCancel>(command: C, payload: PayloadOf<C>): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.send(command, payload);
        this.log.debug({ subject: command.subject }, 'run reported');
        return;
      } catch (error) {
        const code = codeOf(error);
        if (code === ErrorCode.INVALID_TRANSITION && command !== FinishCancel) {
          // Inferred, not told: the runs service passes a completion or failure only while the run
          // is running or cancelling under this lease (else LEASE_LOST, RUN_TERMINAL or NOT_FOUND),
          // and from running both moves are allowed. So the refused move was cancelling →
          // completed|failed: a cancel raced in, and all that is left is to finish it.
          this.state = 'cancelling';
          return this.finish(FinishCancel, this.lease);
        }
        if (code === ErrorCode.RUN_TERMINAL && attempt > 1) {
          // Only a transient failure brings a retry: most likely an earlier attempt arrived and
          // committed, and only its reply was lost, so the run ended with this very report. (Had it
          // ended otherwise meanwhile, there is nothing left to write either.) Not a lost lease.
          this.log.debug({ subject: command.subject }, 'run reported: the retry found it ended, most likely by the earlier attempt');
          return;
        }
        if (code !== undefined && LEASE_GONE.has(code)) {
          this.stop('lost', 'lease_lost', `report refused: ${code}`);
          return;
        }
        if (code === undefined || !TRANSIENT.has(code) || attempt >= REPORT_ATTEMPTS || !this.holdsLease()) {
          this.log.error({ code, error: errorMessage(error), subject: command.subject }, 'could not report the run; it is recovered when its lease expires');
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, REPORT_BACKOFF_MS * 2 ** (attempt - 1)));
      }
    }
  }

  /**
   * The run's last log lines are delivered before its outcome is reported (the log closes a grace
   * period after the run ends). While the transcripts service is down they get one lease TTL — the
   * heartbeat keeps the lease meanwhile — then they are given up with a warning naming how many.
   */
  private async deliverLog(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<true>((resolve) => (timer = setTimeout(() => resolve(true), this.settings.leaseTtlMs)));
    const late = await Promise.race([this.runLog.flush().then(() => false), timedOut]);
    clearTimeout(timer);
    if (late) this.runLog.abandon(`not acknowledged within ${this.settings.leaseTtlMs} ms of the executor's end`);
  }

  // ---- what the executor sees ----

  private context(): ExecutorContext {
    return {
      run: this.claimed.run,
      attempt: this.claimed.run.attempt,
      signal: this.abort.signal,
      steps: this.claimed.steps ?? [],
      waits: this.claimed.waits ?? [],
      logger: this.log,
      log: (text, options) => this.runLog.append(text, options),
      step: (key, update) =>
        this.spans.stateChange(`step ${key}`, { 'step.key': key, ...(update.status === undefined ? {} : { 'step.status': update.status }) }, () =>
          this.write(UpsertPlanStep, { ...this.lease, key, ...update }),
        ),
      span: (name, kind, work, attributes) => this.spans.span(name, kind, work, attributes),
      requestApproval: async ({ key, prompt, details, timeoutSeconds }) => {
        const wait = await this.requestWait('approval', key, { prompt, details, timeout_seconds: timeoutSeconds });
        return approvalAnswer(wait);
      },
      requestInput: async ({ key, prompt, schema, timeoutSeconds }) => {
        const wait = await this.requestWait('input', key, { prompt, schema, timeout_seconds: timeoutSeconds });
        const input = wait.answer?.input;
        if (wait.answer?.decision !== 'responded' || !isPlainObject(input)) throw new Error(`input request "${key}" has no answer`);
        return input;
      },
      progress: async (message, data) => {
        await this.write(ReportProgress, { ...this.lease, message, data });
      },
      postMessage: async (key, content, metadata) => {
        await this.write(PostRunMessage, { ...this.lease, key, content, metadata });
      },
      summary: (key, content, options = {}) => this.write(PostRunTranscriptSegment, { ...this.lease, key, kind: options.kind ?? 'execution', content, metadata: options.metadata }),
    };
  }

  /**
   * The answered wait with `key`: from the claim when a resumed run asks again, else from the runs
   * service, which opens it (and suspends the run: RunSuspended) or returns the one it has. Traced as
   * an `approval` span (request → suspension; the pass that resumes adds the answer to it).
   */
  private requestWait(kind: WaitKind, key: string, fields: WaitFields): Promise<WaitView> {
    return this.spans.wait(kind, key, () => this.openOrFindWait(kind, key, fields));
  }

  private async openOrFindWait(kind: WaitKind, key: string, fields: WaitFields): Promise<WaitView> {
    const known = (this.claimed.waits ?? []).find((wait) => wait.key === key);
    if (known !== undefined && known.kind !== kind) throw new Error(`wait "${key}" is an ${known.kind} request, not an ${kind} request`);
    if (known?.status === 'answered') return known;
    const { wait, suspended } = await this.write(RequestWait, { ...this.lease, key, kind, ...fields });
    if (suspended) {
      this.stop('suspended', 'suspended');
      throw new RunSuspended(key);
    }
    if (wait.status !== 'answered') throw new Error(`wait "${key}" is ${wait.status}`);
    return wait;
  }

  /** Every request for this run goes through here: it carries the run's trace (`traceparent`, a new span each). */
  private send<C extends AnyCommand>(command: C, payload: PayloadOf<C>, options: RequestOptions = {}): Promise<ReplyOf<C>> {
    return this.settings.bus.request(command, payload, this.traced(options));
  }

  /** The options with the run's trace (`traceparent`, a new span each time). */
  private traced<O extends RequestOptions>(options: O): O {
    return { ...options, headers: { ...options.headers, ...traceHeaders(this.trace) } };
  }

  /** A write under the lease; refused here, without asking, once the run is no longer ours. */
  private async write<C extends AnyCommand>(command: C, payload: PayloadOf<C>): Promise<ReplyOf<C>> {
    if (this.state === 'suspended') throw new RunSuspended('(earlier)');
    if (!this.holdsLease()) throw new DomainError(ErrorCode.LEASE_LOST, `This worker no longer holds run ${this.runId}; nothing more is written`);
    try {
      return await this.send(command, payload);
    } catch (error) {
      const code = codeOf(error);
      if (code !== undefined && LEASE_GONE.has(code)) this.stop('lost', 'lease_lost', `${command.subject} refused: ${code}`);
      throw error;
    }
  }
}

function approvalAnswer(wait: WaitView): ApprovalAnswer {
  const decision = wait.answer?.decision;
  if (decision !== 'approved' && decision !== 'denied') throw new Error(`approval "${wait.key}" has no decision`);
  return { approved: decision === 'approved', decision, reason: wait.answer?.reason ?? null };
}

/** The error's message (never its stack), within FailRun's limit. */
function failureMessage(error: unknown): string {
  const message = errorMessage(error).trim() || (error instanceof Error ? error.name : '') || 'the executor failed';
  return message.length > FAILURE_MESSAGE_MAX ? `${message.slice(0, FAILURE_MESSAGE_MAX - 1)}…` : message;
}

function withContext(logger: WorkerLogger, context: Record<string, unknown>): WorkerLogger {
  return {
    debug: (extra, message) => logger.debug({ ...context, ...extra }, message),
    info: (extra, message) => logger.info({ ...context, ...extra }, message),
    warn: (extra, message) => logger.warn({ ...context, ...extra }, message),
    error: (extra, message) => logger.error({ ...context, ...extra }, message),
  };
}
