import { Injectable } from '@nestjs/common';
import { DomainError, ErrorCode, TERMINAL_RUN_STATUSES } from '@runyard/contracts';
import { TransactionalOutbox, type OutboxEvents } from '@runyard/messaging';
import type { EntityManager } from 'typeorm';
import { leaseLost, runNotFound, runTerminal } from './run-errors.js';
import type { RunEntity } from './run.entity.js';
import { RunsRepository } from './runs.repository.js';

/** What a worker presents with every write after its claim. */
export interface HeldLease {
  tenantId: string;
  runId: string;
  leaseToken: number;
}

export interface LeasedWriteOptions {
  /** The write may end the run and give up the session slot: the session queue is locked first. */
  endsRun?: boolean;
  /**
   * The write is the executor's own work (steps, waits, progress, messages): refused with CONFLICT
   * once a cancel was requested, so a worker whose run is being cancelled can only stop it.
   */
  executorWork?: boolean;
}

/**
 * The one fence every worker write passes: the work runs in an outbox transaction on the run's
 * locked row, once the lease checks out. RUN_TERMINAL for a run that has ended (a late write changes
 * nothing), LEASE_LOST unless `lease` is the run's current, unexpired lease (the token is a fencing
 * token: each claim increments it, and a suspended run has no lease at all).
 */
@Injectable()
export class LeaseGuard {
  constructor(
    private readonly runs: RunsRepository,
    private readonly outbox: TransactionalOutbox,
  ) {}

  withLease<T>(lease: HeldLease, options: LeasedWriteOptions, work: (tx: EntityManager, events: OutboxEvents, run: RunEntity) => Promise<T>): Promise<T> {
    return this.outbox.run(async (tx, events) => {
      // Only a write that may end the run can free the session's slot: the others need the row alone.
      const run = options.endsRun === true ? await this.runs.lockForChange(tx, lease.tenantId, lease.runId) : await this.runs.lockRow(tx, lease.tenantId, lease.runId);
      if (run === null) throw runNotFound(lease.runId);
      if (TERMINAL_RUN_STATUSES.has(run.status)) throw runTerminal(run.id, run.status);
      const held = (run.status === 'running' || run.status === 'cancelling') && run.leaseToken === lease.leaseToken;
      if (!held || run.leaseExpiresAt === null || run.leaseExpiresAt.getTime() <= Date.now()) throw leaseLost(run.id);
      if (options.executorWork === true && run.status === 'cancelling') throw runCancelling(run.id);
      return work(tx, events, run);
    });
  }
}

/** The run's cancel was requested: its worker may only stop it (FinishCancel), not go on working. */
function runCancelling(runId: string): DomainError {
  return new DomainError(ErrorCode.CONFLICT, `run ${runId} is being cancelled: stop it and call FinishCancel`);
}
