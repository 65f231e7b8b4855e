import {
  ClaimRun,
  DomainError,
  LEASE_TTL_MAX_MS,
  LEASE_TTL_MIN_MS,
  RunCreated,
  RunStatusChanged,
  type ClaimedRun,
  type EventEnvelope,
  type RunStatusChangedData,
  type RunView,
} from '@runyard/contracts';
import type { Bus, Tail } from '@runyard/messaging';
import type { Executor } from './executor.js';
import { HeldRun } from './held-run.js';
import { errorMessage, silentLogger, type WorkerLogger } from './worker-logger.js';

export interface WorkerOptions {
  bus: Bus;
  /** Names this worker in claims and logs; unique per process (e.g. `<hostname>-<pid>`). */
  workerId: string;
  /** Executors by route name: the worker claims only runs routed to one of them. */
  executors: Record<string, Executor>;
  /** Runs executed at once; default 4. */
  concurrency?: number;
  /** Lease asked for with each claim and renewal; default 30 s. The heartbeat renews at a third of it. */
  leaseTtlMs?: number;
  /**
   * Polling for work when no event said there is any; default 2 s. Pending runs normally wake the
   * worker at once through the event log; polling covers what a broken tail missed.
   */
  claimPollMs?: number;
  logger?: WorkerLogger;
}

export interface StopOptions {
  /** How long runs in hand may keep going before they are aborted and given back; default 0. */
  drainMs?: number;
}

const WORKER_ID = /^[A-Za-z0-9][A-Za-z0-9._:/-]*$/;
/** After an abort, how long stop() waits for executors to return before it gives up on them. */
const ABORT_GRACE_MS = 5000;
const RUN_EVENTS = 'runs.evt.run.>';

/**
 * Claims runs routed to its executors and executes up to `concurrency` at a time, each under a
 * lease kept alive by a heartbeat. It watches the runs service's event log (one tail per worker):
 * a run becoming pending wakes the claim loop at once, and a run it holds moving to `cancelling`
 * (or anything else not running) aborts that run's executor at once — the heartbeat's
 * `cancel_requested` and polling every `claimPollMs` are the fallbacks.
 *
 * Stateless: any number of workers share the work; the runs service's leases with fencing tokens
 * guarantee that a run is executed by one worker at a time.
 */
export class Worker {
  private readonly bus: Bus;
  private readonly workerId: string;
  private readonly executors: Map<string, Executor>;
  private readonly concurrency: number;
  private readonly leaseTtlMs: number;
  private readonly claimPollMs: number;
  private readonly logger: WorkerLogger;
  private readonly held = new Map<string, HeldRun>();
  private readonly idleWaiters = new Set<() => void>();
  private started = false;
  private stopping = false;
  private stopped: Promise<void> | undefined;
  private loop: Promise<void> | undefined;
  private wakeRequested = false;
  private wakeUp: (() => void) | undefined;
  private tail: Tail | undefined;
  private tailRetry: NodeJS.Timeout | undefined;
  private claimFailing = false;
  private tailFailing = false;

  constructor(options: WorkerOptions) {
    this.bus = options.bus;
    this.workerId = options.workerId;
    this.executors = new Map(Object.entries(options.executors));
    this.concurrency = options.concurrency ?? 4;
    this.leaseTtlMs = options.leaseTtlMs ?? 30_000;
    this.claimPollMs = options.claimPollMs ?? 2000;
    this.logger = options.logger ?? silentLogger;
    const problems = [
      !WORKER_ID.test(this.workerId) || this.workerId.length > 200 ? 'workerId must be 1-200 of A-Z a-z 0-9 . _ : / - starting with a letter or digit' : '',
      this.executors.size === 0 || this.executors.size > 50 ? 'executors must name 1-50 executors' : '',
      [...this.executors.keys()].some((name) => !WORKER_ID.test(name) || name.length > 100) ? 'executor names must look like worker ids (at most 100 characters)' : '',
      !Number.isInteger(this.concurrency) || this.concurrency < 1 ? 'concurrency must be a positive integer' : '',
      !Number.isInteger(this.leaseTtlMs) || this.leaseTtlMs < LEASE_TTL_MIN_MS || this.leaseTtlMs > LEASE_TTL_MAX_MS
        ? `leaseTtlMs must be an integer from ${LEASE_TTL_MIN_MS} to ${LEASE_TTL_MAX_MS}`
        : '',
      !(this.claimPollMs > 0) ? 'claimPollMs must be positive' : '',
    ].filter(Boolean);
    if (problems.length > 0) throw new Error(`Invalid worker options: ${problems.join('; ')}`);
  }

  /** Runs in hand right now (claimed and not yet reported). */
  get activeRuns(): number {
    return this.held.size;
  }

  /** Started and not stopping: claiming runs. */
  get isTakingWork(): boolean {
    return this.started && !this.stopping;
  }

  /** Starts watching for work and claiming. Resolves once the event tail is set up (or has failed over to polling). */
  async start(): Promise<void> {
    if (this.started) throw new Error('The worker was already started');
    this.started = true;
    await this.startTail();
    this.loop = this.claimLoop();
    this.logger.info(
      { worker_id: this.workerId, executors: [...this.executors.keys()], concurrency: this.concurrency, lease_ttl_ms: this.leaseTtlMs },
      'worker started',
    );
  }

  /**
   * Stops claiming, lets the runs in hand finish for up to `drainMs`, then aborts the rest and gives
   * them back (ReleaseRun) so another worker takes them at once. Safe to call more than once.
   */
  stop({ drainMs = 0 }: StopOptions = {}): Promise<void> {
    this.stopped ??= this.shutdown(drainMs);
    return this.stopped;
  }

  private async shutdown(drainMs: number): Promise<void> {
    this.stopping = true;
    this.wake();
    await this.loop;
    if (this.held.size > 0) {
      this.logger.info({ runs: this.held.size, drain_ms: drainMs }, 'worker draining');
      await this.whenIdle(drainMs);
    }
    const left = [...this.held.values()];
    if (left.length > 0) {
      await Promise.all(left.map((run) => run.release()));
      await this.whenIdle(ABORT_GRACE_MS);
      if (this.held.size > 0) this.logger.warn({ runs: [...this.held.keys()] }, 'executors did not stop after their abort');
    }
    clearTimeout(this.tailRetry);
    await this.tail?.stop().catch(() => undefined);
    this.logger.info({ worker_id: this.workerId, released: left.length }, 'worker stopped');
  }

  // ---- claiming ----

  private async claimLoop(): Promise<void> {
    while (!this.stopping) {
      if (this.held.size < this.concurrency) {
        const claimed = await this.claim();
        if (claimed === 'claimed') continue;
        if (claimed === 'failed') {
          // The runs service is unreachable: no event will come either; poll.
          await this.sleep(this.claimPollMs, false);
          continue;
        }
      }
      await this.sleep(this.claimPollMs, true);
    }
  }

  private async claim(): Promise<'claimed' | 'none' | 'failed'> {
    const sentAt = Date.now();
    let claimed: ClaimedRun | null;
    try {
      claimed = await this.bus.request(ClaimRun, { worker_id: this.workerId, executors: [...this.executors.keys()], lease_ttl_ms: this.leaseTtlMs });
    } catch (error) {
      // Logged once per outage, not once per poll.
      if (!this.claimFailing) this.logger.warn({ code: error instanceof DomainError ? error.code : undefined, error: errorMessage(error) }, 'claiming failed');
      this.claimFailing = true;
      return 'failed';
    }
    if (this.claimFailing) this.logger.info({}, 'claiming works again');
    this.claimFailing = false;
    if (claimed === null) return 'none';
    this.hold(claimed, sentAt);
    return 'claimed';
  }

  private hold(claimed: ClaimedRun, sentAt: number): void {
    const run = new HeldRun(claimed, { bus: this.bus, workerId: this.workerId, leaseTtlMs: this.leaseTtlMs, heartbeatMs: Math.floor(this.leaseTtlMs / 3), logger: this.logger }, sentAt);
    this.held.set(run.runId, run);
    this.logger.debug({ run_id: run.runId, attempt: claimed.run.attempt, executor: claimed.run.route.executor }, 'run claimed');
    const executor = this.executors.get(claimed.run.route.executor) ?? missingExecutor(claimed.run.route.executor);
    void run
      .execute(executor)
      .catch((error: unknown) => this.logger.error({ run_id: run.runId, error: errorMessage(error) }, 'run handling failed'))
      .finally(() => {
        this.held.delete(run.runId);
        for (const notify of this.idleWaiters) notify();
        this.wake();
      });
  }

  /** Waits `ms`, or less when woken (a run became pending, a slot freed up) if `wakeable`, or stopping. */
  private sleep(ms: number, wakeable: boolean): Promise<void> {
    if (this.stopping) return Promise.resolve();
    if (wakeable && this.wakeRequested) {
      this.wakeRequested = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.wakeUp = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakeUp = () => {
        if (!wakeable && !this.stopping) return;
        this.wakeRequested = false;
        done();
      };
    });
  }

  private wake(): void {
    this.wakeRequested = true;
    this.wakeUp?.();
  }

  /** Resolves when no run is in hand, or after `ms`. */
  private whenIdle(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const check = (): void => {
        if (this.held.size > 0) return;
        finish();
      };
      const finish = (): void => {
        clearTimeout(timer);
        this.idleWaiters.delete(check);
        resolve();
      };
      const timer = setTimeout(finish, ms);
      this.idleWaiters.add(check);
      check();
    });
  }

  // ---- the event tail: wake-ups and pushed cancels ----

  private async startTail(): Promise<void> {
    if (this.stopping) return;
    try {
      const tail = await this.bus.tail({
        filterSubject: RUN_EVENTS,
        start: { kind: 'new' },
        handler: (event) => {
          this.onEvent(event.envelope);
          return Promise.resolve();
        },
      });
      this.tail = tail;
      if (this.tailFailing) this.logger.info({}, 'event tail works again');
      this.tailFailing = false;
      tail.ended.then(
        () => undefined,
        (error: unknown) => this.retryTail(error),
      );
    } catch (error) {
      this.retryTail(error);
    }
  }

  /** Until the tail is back, polling and heartbeats carry on; events missed meanwhile are covered by one claim round. */
  private retryTail(error: unknown): void {
    if (this.stopping) return;
    // Logged once per outage, not once per retry.
    if (!this.tailFailing) this.logger.warn({ error: errorMessage(error) }, 'event tail failed; polling until it is back');
    this.tailFailing = true;
    this.tailRetry = setTimeout(() => {
      void this.startTail().then(() => this.wake());
    }, this.claimPollMs);
  }

  private onEvent(envelope: EventEnvelope): void {
    try {
      if (envelope.subject === RunCreated.subject) {
        const run = envelope.data as RunView;
        if (run.status === 'pending' && this.isMine(run)) this.wake();
      } else if (envelope.subject === RunStatusChanged.subject) {
        const change = envelope.data as RunStatusChangedData;
        if (change.to === 'pending' && this.isMine(change.run)) this.wake();
        this.held.get(change.run.id)?.onStatusChanged(change);
      }
    } catch (error) {
      // A malformed event must not end the tail.
      this.logger.warn({ event_id: envelope.id, error: errorMessage(error) }, 'could not read a run event');
    }
  }

  private isMine(run: RunView): boolean {
    return this.executors.has(run.route.executor);
  }
}

/** Only when the runs service handed out a run of another executor than asked for. */
function missingExecutor(name: string): Executor {
  return () => Promise.reject(new Error(`this worker has no executor "${name}"`));
}
