import { Injectable, Logger } from '@nestjs/common';
import { CLAIMED_RUN_MAX_BYTES, type ClaimedRun, type LeaseRenewal, type RunView } from '@runyard/contracts';
import { TransactionalOutbox } from '@runyard/messaging';
import { toPlainJson } from '@runyard/persistence';
import type { EntityManager } from 'typeorm';
import { toPlanStepView } from '../plan-steps/plan-step.mapper.js';
import { PlanStepsRepository } from '../plan-steps/plan-steps.repository.js';
import { toWaitView } from '../waits/wait.mapper.js';
import { WaitsRepository } from '../waits/waits.repository.js';
import { LeaseGuard, type HeldLease } from './lease-guard.js';
import type { RunEntity } from './run.entity.js';
import { toRunView } from './run.mapper.js';
import { RunLifecycle } from './run-lifecycle.js';
import { RunsRepository, type RunChanges } from './runs.repository.js';

/** A claim whose reply would exceed CLAIMED_RUN_MAX_BYTES: its transaction is rolled back and the run failed apart. */
class ClaimTooLarge extends Error {
  constructor(
    readonly run: Pick<RunEntity, 'tenantId' | 'id'>,
    readonly bytes: number,
  ) {
    super(`the claim of run ${run.id} is ${bytes} bytes`);
    this.name = 'ClaimTooLarge';
  }
}

/**
 * What workers do with runs: claim one under a lease, renew the lease, and report the outcome. The
 * lease token is a fencing token — each claim increments it — so a worker whose lease expired or was
 * taken over cannot write anything, whatever it still believes.
 */
@Injectable()
export class LeasesService {
  private readonly logger = new Logger(LeasesService.name);

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
   *
   * The reply is measured before the claim commits: a run whose claim would exceed
   * CLAIMED_RUN_MAX_BYTES (more than the bus carries) is failed instead — were it claimed, its reply
   * would be lost, its lease would lapse and every retry would end the same way — and the next
   * pending run is claimed in its place.
   */
  async claim(workerId: string, executors: string[] | undefined, leaseTtlMs: number): Promise<ClaimedRun | null> {
    for (;;) {
      try {
        return await this.outbox.run(async (tx, events) => {
          const run = await this.runs.lockOldestPending(tx, executors);
          if (run === null) return null;
          await this.lifecycle.move(tx, events, run, 'running', claimChanges(run, workerId, leaseTtlMs));
          const claimed = await this.claimedRun(tx, run);
          const bytes = Buffer.byteLength(JSON.stringify(claimed), 'utf8');
          // Thrown, so the claim rolls back; the run is failed in a transaction that takes its locks in order.
          if (bytes > CLAIMED_RUN_MAX_BYTES) throw new ClaimTooLarge(run, bytes);
          return claimed;
        });
      } catch (error) {
        if (!(error instanceof ClaimTooLarge)) throw error;
        await this.failTooLarge(error, workerId, leaseTtlMs);
      }
    }
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

  /**
   * Fails a run whose claim is too large, as claimed by `workerId` and failed at once (running →
   * failed: a pending run cannot fail otherwise), under lockForChange's locks (failing frees the
   * session's slot). Nothing changes when the run is no longer pending: someone else dealt with it. A
   * pending run's steps and waits do not change (only a lease holder writes them), so neither does
   * its size.
   */
  private async failTooLarge({ run: { tenantId, id }, bytes }: ClaimTooLarge, workerId: string, leaseTtlMs: number): Promise<void> {
    const failed = await this.outbox.run(async (tx, events) => {
      const run = await this.runs.lockForChange(tx, tenantId, id);
      if (run?.status !== 'pending') return false;
      const failureMessage =
        `the run cannot be handed to a worker: its claim (the run with its input, plan steps and waits) would be ${bytes} bytes, ` +
        `over the limit of ${CLAIMED_RUN_MAX_BYTES} bytes`;
      await this.lifecycle.move(tx, events, run, 'running', claimChanges(run, workerId, leaseTtlMs));
      await this.lifecycle.move(tx, events, run, 'failed', { failureClass: 'error', failureMessage });
      return true;
    });
    if (failed) this.logger.warn(`Run ${id} failed: its claim would be ${bytes} bytes, over the ${CLAIMED_RUN_MAX_BYTES}-byte limit`);
  }

  /** The claim's reply: the run as claimed, its lease, its plan steps and its waits. */
  private async claimedRun(tx: EntityManager, run: RunEntity): Promise<ClaimedRun> {
    const steps = await this.steps.listInRun(run.tenantId, run.id, {}, tx);
    const waits = await this.waits.listInRun(run.tenantId, run.id, {}, tx);
    return {
      run: toRunView(run),
      lease_token: run.leaseToken,
      lease_expires_at: (run.leaseExpiresAt as Date).toISOString(),
      steps: steps.map(toPlanStepView),
      waits: waits.map(toWaitView),
    };
  }

  /** The worker stopped a run whose cancel was requested. */
  finishCancel(lease: HeldLease): Promise<RunView> {
    return this.guard.withLease(lease, { endsRun: true }, async (tx, events, run) => {
      await this.lifecycle.move(tx, events, run, 'cancelled');
      return toRunView(run);
    });
  }
}

/**
 * What a claim changes: a new lease (the token is the fencing token) for `workerId`, one more
 * attempt, and on the first claim the start and the deadline. The deadline is kept afterwards: a
 * retried run does not get its time again, and an answered wait moves it on by the time suspended.
 */
function claimChanges(run: RunEntity, workerId: string, leaseTtlMs: number): RunChanges {
  const now = new Date();
  const startedAt = run.startedAt ?? now;
  const firstDeadline = run.maxDurationSeconds === null ? null : new Date(startedAt.getTime() + run.maxDurationSeconds * 1000);
  return {
    workerId,
    leaseToken: run.leaseToken + 1,
    leaseExpiresAt: new Date(now.getTime() + leaseTtlMs),
    attempt: run.attempt + 1,
    startedAt,
    deadlineAt: run.deadlineAt ?? firstDeadline,
  };
}
