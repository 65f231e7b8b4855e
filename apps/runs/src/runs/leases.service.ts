import { Injectable } from '@nestjs/common';
import { TERMINAL_RUN_STATUSES, type ClaimedRun, type LeaseRenewal, type RunView } from '@runyard/contracts';
import { TransactionalOutbox, type OutboxEvents } from '@runyard/messaging';
import type { EntityManager } from 'typeorm';
import { leaseLost, runNotFound, runTerminal } from './run-errors.js';
import type { RunEntity } from './run.entity.js';
import { toRunView } from './run.mapper.js';
import { RunLifecycle } from './run-lifecycle.js';
import { RunsRepository } from './runs.repository.js';
import { toPlainJson } from '@runyard/persistence';

/** What a worker presents with every write after its claim. */
export interface HeldLease {
  tenantId: string;
  runId: string;
  leaseToken: number;
}

/**
 * What workers do with runs: claim one under a lease, renew the lease, and report the outcome. The
 * lease token is a fencing token — each claim increments it — so a worker whose lease expired or was
 * taken over cannot write anything, whatever it still believes.
 */
@Injectable()
export class LeasesService {
  constructor(
    private readonly runs: RunsRepository,
    private readonly lifecycle: RunLifecycle,
    private readonly outbox: TransactionalOutbox,
  ) {}

  /** The oldest pending run (of `executors`), now running under a new lease of `leaseTtlMs`; null when none is pending. */
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
      return { run: toRunView(run), lease_token: run.leaseToken, lease_expires_at: (run.leaseExpiresAt as Date).toISOString() };
    });
  }

  /** Extends the lease to `leaseTtlMs` from now, and tells the worker whether a cancel was requested. */
  renew(lease: HeldLease, leaseTtlMs: number): Promise<LeaseRenewal> {
    return this.withLease(lease, false, async (tx, _events, run) => {
      const leaseExpiresAt = new Date(Date.now() + leaseTtlMs);
      await this.runs.applyChange(tx, run.tenantId, run.id, run.version, { leaseExpiresAt, updatedAt: new Date() });
      return { lease_expires_at: leaseExpiresAt.toISOString(), cancel_requested: run.status === 'cancelling' };
    });
  }

  complete(lease: HeldLease, output: Record<string, unknown> | undefined): Promise<RunView> {
    return this.withLease(lease, true, async (tx, events, run) => {
      await this.lifecycle.move(tx, events, run, 'completed', { output: output === undefined ? null : toPlainJson(output) });
      return toRunView(run);
    });
  }

  fail(lease: HeldLease, failureMessage: string): Promise<RunView> {
    return this.withLease(lease, true, async (tx, events, run) => {
      await this.lifecycle.move(tx, events, run, 'failed', { failureClass: 'error', failureMessage });
      return toRunView(run);
    });
  }

  /** The worker stopped a run whose cancel was requested. */
  finishCancel(lease: HeldLease): Promise<RunView> {
    return this.withLease(lease, true, async (tx, events, run) => {
      await this.lifecycle.move(tx, events, run, 'cancelled');
      return toRunView(run);
    });
  }

  /**
   * Runs `work` on the run, row locked, once the lease checks out: RUN_TERMINAL for a run that has
   * ended (a late write changes nothing), LEASE_LOST unless `lease` is the run's current, unexpired
   * lease. With `endsRun`, the session queue is locked first (the run may give up the session slot).
   */
  private withLease<T>(lease: HeldLease, endsRun: boolean, work: (tx: EntityManager, events: OutboxEvents, run: RunEntity) => Promise<T>): Promise<T> {
    return this.outbox.run(async (tx, events) => {
      if (endsRun) {
        const seen = await this.runs.findInTenant(tx, lease.tenantId, lease.runId);
        if (seen === null) throw runNotFound(lease.runId);
        if (seen.parentRunId === null && seen.sessionId !== null) await this.runs.lockSessionQueue(tx, seen.tenantId, seen.sessionId);
      }
      const run = await this.runs.lockInTenant(tx, lease.tenantId, lease.runId);
      if (run === null) throw runNotFound(lease.runId);
      if (TERMINAL_RUN_STATUSES.has(run.status)) throw runTerminal(run.id, run.status);
      const held = (run.status === 'running' || run.status === 'cancelling') && run.leaseToken === lease.leaseToken;
      if (!held || run.leaseExpiresAt === null || run.leaseExpiresAt.getTime() <= Date.now()) throw leaseLost(run.id);
      return work(tx, events, run);
    });
  }
}
