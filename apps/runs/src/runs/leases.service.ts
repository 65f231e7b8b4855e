import { Injectable } from '@nestjs/common';
import type { ClaimedRun, LeaseRenewal, RunView } from '@runyard/contracts';
import { TransactionalOutbox } from '@runyard/messaging';
import { toPlainJson } from '@runyard/persistence';
import { toPlanStepView } from '../plan-steps/plan-step.mapper.js';
import { PlanStepsRepository } from '../plan-steps/plan-steps.repository.js';
import { toWaitView } from '../waits/wait.mapper.js';
import { WaitsRepository } from '../waits/waits.repository.js';
import { LeaseGuard, type HeldLease } from './lease-guard.js';
import { toRunView } from './run.mapper.js';
import { RunLifecycle } from './run-lifecycle.js';
import { RunsRepository } from './runs.repository.js';

/**
 * What workers do with runs: claim one under a lease, renew the lease, and report the outcome. The
 * lease token is a fencing token — each claim increments it — so a worker whose lease expired or was
 * taken over cannot write anything, whatever it still believes.
 */
@Injectable()
export class LeasesService {
  constructor(
    private readonly runs: RunsRepository,
    private readonly steps: PlanStepsRepository,
    private readonly waits: WaitsRepository,
    private readonly lifecycle: RunLifecycle,
    private readonly guard: LeaseGuard,
    private readonly outbox: TransactionalOutbox,
  ) {}

  /**
   * The oldest pending run (of `executors`), now running under a new lease of `leaseTtlMs`, with its
   * plan steps (position order) and waits (oldest first: a resumed run finds its answers by key);
   * null when none is pending.
   */
  claim(workerId: string, executors: string[] | undefined, leaseTtlMs: number): Promise<ClaimedRun | null> {
    return this.outbox.run(async (tx, events) => {
      const run = await this.runs.lockOldestPending(tx, executors);
      if (run === null) return null;
      const now = new Date();
      const startedAt = run.startedAt ?? now;
      await this.lifecycle.move(tx, events, run, 'running', {
        workerId,
        leaseToken: run.leaseToken + 1,
        leaseExpiresAt: new Date(now.getTime() + leaseTtlMs),
        attempt: run.attempt + 1,
        startedAt,
        deadlineAt: run.maxDurationSeconds === null ? null : new Date(startedAt.getTime() + run.maxDurationSeconds * 1000),
      });
      const steps = await this.steps.listInRun(run.tenantId, run.id, {}, tx);
      const waits = await this.waits.listInRun(run.tenantId, run.id, {}, tx);
      return {
        run: toRunView(run),
        lease_token: run.leaseToken,
        lease_expires_at: (run.leaseExpiresAt as Date).toISOString(),
        steps: steps.map(toPlanStepView),
        waits: waits.map(toWaitView),
      };
    });
  }

  /** Extends the lease to `leaseTtlMs` from now, and tells the worker whether a cancel was requested. */
  renew(lease: HeldLease, leaseTtlMs: number): Promise<LeaseRenewal> {
    return this.guard.withLease(lease, {}, async (tx, _events, run) => {
      const leaseExpiresAt = new Date(Date.now() + leaseTtlMs);
      await this.runs.applyChange(tx, run.tenantId, run.id, run.version, { leaseExpiresAt, updatedAt: new Date() });
      return { lease_expires_at: leaseExpiresAt.toISOString(), cancel_requested: run.status === 'cancelling' };
    });
  }

  complete(lease: HeldLease, output: Record<string, unknown> | undefined): Promise<RunView> {
    return this.guard.withLease(lease, { endsRun: true }, async (tx, events, run) => {
      await this.lifecycle.move(tx, events, run, 'completed', { output: output === undefined ? null : toPlainJson(output) });
      return toRunView(run);
    });
  }

  fail(lease: HeldLease, failureMessage: string): Promise<RunView> {
    return this.guard.withLease(lease, { endsRun: true }, async (tx, events, run) => {
      await this.lifecycle.move(tx, events, run, 'failed', { failureClass: 'error', failureMessage });
      return toRunView(run);
    });
  }

  /**
   * The worker gives the run back unfinished (it is shutting down): pending again at once, and the
   * claim does not count as an attempt. A run whose cancel was requested is cancelled instead: its
   * worker has stopped it.
   */
  release(lease: HeldLease): Promise<RunView> {
    return this.guard.withLease(lease, { endsRun: true }, async (tx, events, run) => {
      if (run.status === 'cancelling') await this.lifecycle.move(tx, events, run, 'cancelled');
      else await this.lifecycle.move(tx, events, run, 'pending', { attempt: Math.max(0, run.attempt - 1) });
      return toRunView(run);
    });
  }

  /** The worker stopped a run whose cancel was requested. */
  finishCancel(lease: HeldLease): Promise<RunView> {
    return this.guard.withLease(lease, { endsRun: true }, async (tx, events, run) => {
      await this.lifecycle.move(tx, events, run, 'cancelled');
      return toRunView(run);
    });
  }
}
