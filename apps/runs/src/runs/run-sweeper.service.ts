import { type BeforeApplicationShutdown, Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import type { RunStatus } from '@runyard/contracts';
import { TransactionalOutbox } from '@runyard/messaging';
import type { EntityManager } from 'typeorm';
import { WaitsRepository } from '../waits/waits.repository.js';
import type { RunEntity } from './run.entity.js';
import { RunLifecycle } from './run-lifecycle.js';
import { RUNS_SETTINGS, type RunsSettings } from './runs-settings.js';
import { RunsRepository, type RunChanges, type SweepCandidate } from './runs.repository.js';

/** Runs handled per kind and sweep; the rest wait for the next sweep (bounded transactions). */
const SWEEP_BATCH = 100;

export interface SweepResult {
  leasesExpired: number;
  ttlsExpired: number;
  deadlinesPassed: number;
  waitsTimedOut: number;
}

/**
 * Ends or recovers what nobody else will, on a timer: a run whose worker stopped renewing its lease
 * goes back to pending (attempts left) or fails as `crashed`, and a cancelling one is cancelled;
 * queued or pending runs past their TTL expire; running runs past their max duration fail as
 * `timeout`, and cancelling runs whose worker did not stop them within the grace period are
 * cancelled; a suspended run whose wait timed out expires, and the wait with it. Every change goes
 * through RunLifecycle, so the session's queue moves on in the same transaction. Every replica
 * sweeps; each run is re-checked under its row lock, so two sweepers never apply the same change.
 */
@Injectable()
export class RunSweeper implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(RunSweeper.name);
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly runs: RunsRepository,
    private readonly waits: WaitsRepository,
    private readonly lifecycle: RunLifecycle,
    private readonly outbox: TransactionalOutbox,
    @Inject(RUNS_SETTINGS) private readonly settings: RunsSettings,
  ) {}

  onApplicationBootstrap(): void {
    this.schedule();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** One pass over everything due at `now`. */
  async sweep(now = new Date()): Promise<SweepResult> {
    const leases = await this.runs.findLeasesExpiredBefore(now, SWEEP_BATCH);
    const ttls = await this.runs.findTtlExpiredBefore(now, SWEEP_BATCH);
    const deadlines = await this.runs.findDeadlinesPassedBefore(now, SWEEP_BATCH);
    const waits = await this.waits.findTimedOutBefore(now, SWEEP_BATCH);
    return {
      leasesExpired: await this.each(leases, (_tx, run) => recoverLease(run, now)),
      ttlsExpired: await this.each(ttls, (_tx, run) => expireTtl(run, now)),
      deadlinesPassed: await this.each(deadlines, (_tx, run) => timeOut(run, now)),
      waitsTimedOut: await this.each(waits, (tx, run) => this.expireWait(tx, run, now)),
    };
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.sweep()
        .then(
          () => undefined,
          (error: unknown) => this.logger.error(`Run sweep failed: ${error instanceof Error ? error.message : String(error)}`),
        )
        .finally(() => this.schedule());
    }, this.settings.leaseSweepIntervalMs);
  }

  /** Applies `decide`'s change to each candidate in a transaction of its own; counts the runs it changed. */
  private async each(candidates: SweepCandidate[], decide: (tx: EntityManager, run: RunEntity) => Decision | Promise<Decision>): Promise<number> {
    let changed = 0;
    for (const candidate of candidates) {
      try {
        const applied = await this.outbox.run(async (tx, events) => {
          const run = await this.runs.lockForChange(tx, candidate.tenantId, candidate.id);
          const decision = run === null ? null : await decide(tx, run);
          // Settled meanwhile (renewed, claimed, finished): nothing to do.
          if (run === null || decision === null) return false;
          await this.lifecycle.move(tx, events, run, decision.to, decision.changes);
          return true;
        });
        if (applied) changed++;
      } catch (error) {
        this.logger.warn(`Sweeping run ${candidate.id} failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    return changed;
  }

  /**
   * A suspended run whose open wait timed out expires (RunLifecycle closes the wait as expired). Its
   * waits are re-read under the run's lock: the one found may have been answered meanwhile, and the
   * run may wait on a newer one since.
   */
  private async expireWait(tx: EntityManager, run: RunEntity, now: Date): Promise<Decision> {
    if (run.status !== 'waiting_for_approval' && run.status !== 'waiting_for_input') return null;
    const open = await this.waits.lockOpenInRun(tx, run.tenantId, run.id);
    if (!open.some((wait) => wait.timeoutAt !== null && wait.timeoutAt <= now)) return null;
    return { to: 'expired', changes: {} };
  }
}

type Decision = { to: RunStatus; changes: RunChanges } | null;

/** A lost lease: a cancelling run is done; a running one is retried while attempts are left, else it crashed. */
function recoverLease(run: RunEntity, now: Date): Decision {
  if ((run.status !== 'running' && run.status !== 'cancelling') || run.leaseExpiresAt === null || run.leaseExpiresAt > now) return null;
  if (run.status === 'cancelling') return { to: 'cancelled', changes: {} };
  // Out of time as well: retrying could only time out again.
  if (run.deadlineAt !== null && run.deadlineAt <= now) return timeOut(run, now);
  if (run.attempt < run.maxAttempts) return { to: 'pending', changes: {} };
  return { to: 'failed', changes: { failureClass: 'crashed', failureMessage: `the worker's lease expired on all ${run.maxAttempts} attempts` } };
}

function expireTtl(run: RunEntity, now: Date): Decision {
  if ((run.status !== 'queued' && run.status !== 'pending') || run.startedAt !== null || run.expiresAt === null || run.expiresAt > now) return null;
  return { to: 'expired', changes: {} };
}

/** Past its deadline: a running run fails as `timeout`; a cancelling one (grace over) is cancelled. */
function timeOut(run: RunEntity, now: Date): Decision {
  if ((run.status !== 'running' && run.status !== 'cancelling') || run.deadlineAt === null || run.deadlineAt > now) return null;
  if (run.status === 'cancelling') return { to: 'cancelled', changes: {} };
  return { to: 'failed', changes: { failureClass: 'timeout', failureMessage: `the run exceeded its max duration of ${run.maxDurationSeconds ?? 0} s` } };
}
