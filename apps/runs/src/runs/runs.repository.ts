import { Injectable } from '@nestjs/common';
import { DomainError, ErrorCode, type RunSource, type RunStatus } from '@runyard/contracts';
import { isUniqueViolationOf, withJsonbColumns } from '@runyard/persistence';
import { DataSource, type EntityManager, type SelectQueryBuilder } from 'typeorm';
import { RunEntity } from './run.entity.js';

/**
 * `ownerId` is the caller's owner filter (`ownerFilter(scope)`): a principal id restricts every
 * caller-facing method to that owner's runs, `undefined` (admins) to the whole tenant.
 */
export type OwnerFilter = string | undefined;

export interface RunListFilters {
  sessionId?: string;
  parentRunId?: string;
  taskId?: string;
  jobId?: string;
  statuses?: RunStatus[];
  source?: RunSource;
  createdAfter?: Date;
  createdBefore?: Date;
}

/** The fields a status change may set besides the status (which only RunLifecycle sets). */
export type RunChanges = Partial<
  Pick<
    RunEntity,
    | 'status'
    | 'updatedAt'
    | 'finishedAt'
    | 'startedAt'
    | 'deadlineAt'
    | 'workerId'
    | 'leaseToken'
    | 'leaseExpiresAt'
    | 'attempt'
    | 'output'
    | 'failureClass'
    | 'failureMessage'
    | 'cancelReason'
    | 'cancelledBy'
  >
>;

/** Where a sweep found something to do; the sweeper re-checks each under its row lock. */
export interface SweepCandidate {
  tenantId: string;
  id: string;
}

/** The partial unique index on (tenant_id, created_by, idempotency_key) (migration 1763800000002). */
const IDEMPOTENCY_KEY_INDEX = 'runs_idempotency_key_idx';

/** A run with the same creator and idempotency key committed first; read it instead. */
export class IdempotencyKeyTaken extends Error {
  constructor() {
    super('idempotency key already used');
    this.name = 'IdempotencyKeyTaken';
  }
}

/** A run found by its idempotency key, with the fingerprint of the body that created it. */
export interface KeyedRun {
  run: RunEntity;
  fingerprint: string;
}

/** Queue order within a session: interrupting runs first, then in the order they were accepted. */
const QUEUE_ORDER = 'jumps_queue DESC, queue_seq ASC';

@Injectable()
export class RunsRepository {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * Throws IdempotencyKeyTaken when another run of the same creator already holds `run`'s
   * idempotency key (a concurrent duplicate that committed first); the transaction is then aborted.
   */
  async insertRun(tx: EntityManager, run: RunEntity): Promise<void> {
    try {
      await tx.insert(RunEntity, withJsonbColumns(run));
    } catch (error) {
      if (run.idempotencyKey != null && isUniqueViolationOf(error, IDEMPOTENCY_KEY_INDEX)) throw new IdempotencyKeyTaken();
      throw error;
    }
  }

  /** The run `createdBy` created with `idempotencyKey`, if the caller may see it, and its body's fingerprint. */
  async findByIdempotencyKey(
    tenantId: string,
    ownerId: OwnerFilter,
    createdBy: string,
    idempotencyKey: string,
    manager: EntityManager = this.dataSource.manager,
  ): Promise<KeyedRun | null> {
    const run = await this.visible(manager, tenantId, ownerId)
      .addSelect('r.idempotencyFingerprint')
      .andWhere('r.created_by = :createdBy AND r.idempotency_key = :idempotencyKey', { createdBy, idempotencyKey })
      .getOne();
    if (run === null) return null;
    const { idempotencyFingerprint, ...entity } = run;
    return { run: entity, fingerprint: idempotencyFingerprint ?? '' };
  }

  findVisible(tenantId: string, ownerId: OwnerFilter, runId: string, manager: EntityManager = this.dataSource.manager): Promise<RunEntity | null> {
    return this.visible(manager, tenantId, ownerId).andWhere('r.id = :runId', { runId }).getOne();
  }

  /**
   * The one way to lock a run for a change that may move its session's slot or queue (any status
   * change): null when absent or, with `ownerId`, not the caller's (`undefined`: anywhere in the
   * tenant — admins and trusted callers, workers and the sweeper).
   *
   * Lock order, the same in every transaction so none waits on another in the opposite order:
   *  1. the session's queue (lockSessionQueue), when the run is top-level in a session — found by
   *     reading the run unlocked first, which is safe as a run's session and parent never change;
   *  2. the run's row (held until the transaction ends), returned as it is now;
   *  3. then whatever hangs off the run: its waits, its sub-runs, the session's next queued run.
   * Callers re-check the status they act on: it may have changed before the row lock was granted.
   */
  async lockForChange(tx: EntityManager, tenantId: string, runId: string, ownerId: OwnerFilter = undefined): Promise<RunEntity | null> {
    const seen = await this.visible(tx, tenantId, ownerId).andWhere('r.id = :runId', { runId }).getOne();
    if (seen === null) return null;
    if (seen.parentRunId === null && seen.sessionId !== null) await this.lockSessionQueue(tx, tenantId, seen.sessionId);
    return this.lockRow(tx, tenantId, runId, ownerId);
  }

  /**
   * The run's row only, held until the transaction ends: for a change that cannot touch the session's
   * slot (a parent run a sub-run is added under, a lease renewal, the executor's own writes).
   */
  lockRow(tx: EntityManager, tenantId: string, runId: string, ownerId: OwnerFilter = undefined): Promise<RunEntity | null> {
    return this.visible(tx, tenantId, ownerId).andWhere('r.id = :runId', { runId }).setLock('pessimistic_write').getOne();
  }

  /**
   * Serialises every change to one session's slot and queue until the transaction ends (a
   * transaction-scoped advisory lock, taken before any run row lock: see lockForChange).
   */
  async lockSessionQueue(tx: EntityManager, tenantId: string, sessionId: string): Promise<void> {
    await tx.query(`SELECT pg_advisory_xact_lock(hashtextextended('runyard.runs.session.' || $1 || '.' || $2, 0))`, [tenantId, sessionId]);
  }

  /** The top-level run holding the session slot, if any. Call with the session queue locked. */
  findActiveInSession(tx: EntityManager, tenantId: string, sessionId: string): Promise<RunEntity | null> {
    return tx
      .createQueryBuilder(RunEntity, 'r')
      .where('r.tenant_id = :tenantId AND r.session_id = :sessionId AND r.parent_run_id IS NULL', { tenantId, sessionId })
      .andWhere('r.status IN (:...active)', { active: ['pending', 'running', 'waiting_for_approval', 'waiting_for_input', 'cancelling'] })
      .setLock('pessimistic_write')
      .getOne();
  }

  /** The run that takes the session slot next. Call with the session queue locked. */
  lockNextQueuedInSession(tx: EntityManager, tenantId: string, sessionId: string): Promise<RunEntity | null> {
    return tx
      .createQueryBuilder(RunEntity, 'r')
      .where('r.tenant_id = :tenantId AND r.session_id = :sessionId AND r.status = :queued', { tenantId, sessionId, queued: 'queued' })
      .orderBy('r.jumps_queue', 'DESC')
      .addOrderBy('r.queue_seq', 'ASC')
      .limit(1)
      .setLock('pessimistic_write')
      .getOne();
  }

  /** 1-based places in their sessions' queues of those of `runs` that are queued. */
  async queuePositions(tenantId: string, runs: RunEntity[], manager: EntityManager = this.dataSource.manager): Promise<Map<string, number>> {
    const queued = runs.filter((run) => run.status === 'queued' && run.sessionId !== null);
    if (queued.length === 0) return new Map();
    const sessionIds = [...new Set(queued.map((run) => run.sessionId))];
    const rows = await manager.query<{ id: string; position: string | number }[]>(
      `SELECT id, position FROM (
         SELECT id, row_number() OVER (PARTITION BY session_id ORDER BY ${QUEUE_ORDER}) AS position
         FROM runs WHERE tenant_id = $1 AND status = 'queued' AND session_id = ANY($2::uuid[])
       ) q WHERE id = ANY($3::uuid[])`,
      [tenantId, sessionIds, queued.map((run) => run.id)],
    );
    return new Map(rows.map((row) => [row.id, Number(row.position)]));
  }

  /** Newest first; `beforeId` continues after the last id of the previous page (UUIDv7 ids are time-ordered). */
  listVisible(tenantId: string, ownerId: OwnerFilter, filters: RunListFilters, page: { beforeId?: string; take: number }): Promise<RunEntity[]> {
    const query = this.visible(this.dataSource.manager, tenantId, ownerId);
    if (filters.sessionId !== undefined) query.andWhere('r.session_id = :sessionId', { sessionId: filters.sessionId });
    if (filters.parentRunId !== undefined) query.andWhere('r.parent_run_id = :parentRunId', { parentRunId: filters.parentRunId });
    if (filters.taskId !== undefined) query.andWhere('r.task_id = :taskId', { taskId: filters.taskId });
    if (filters.jobId !== undefined) query.andWhere('r.job_id = :jobId', { jobId: filters.jobId });
    if (filters.statuses !== undefined) query.andWhere('r.status IN (:...statuses)', { statuses: filters.statuses });
    if (filters.source !== undefined) query.andWhere('r.source = :source', { source: filters.source });
    if (filters.createdAfter !== undefined) query.andWhere('r.created_at > :createdAfter', { createdAfter: filters.createdAfter });
    if (filters.createdBefore !== undefined) query.andWhere('r.created_at < :createdBefore', { createdBefore: filters.createdBefore });
    if (page.beforeId !== undefined) query.andWhere('r.id < :beforeId', { beforeId: page.beforeId });
    return query.orderBy('r.id', 'DESC').limit(page.take).getMany();
  }

  /** Sub-runs of `parentRunId` that have not ended, rows held, oldest first. */
  lockUnfinishedChildren(tx: EntityManager, tenantId: string, parentRunId: string): Promise<RunEntity[]> {
    return tx
      .createQueryBuilder(RunEntity, 'r')
      .where('r.tenant_id = :tenantId AND r.parent_run_id = :parentRunId', { tenantId, parentRunId })
      .andWhere('r.status NOT IN (:...terminal)', { terminal: ['completed', 'failed', 'cancelled', 'expired'] })
      .orderBy('r.id', 'ASC')
      .setLock('pessimistic_write')
      .getMany();
  }

  /**
   * The oldest pending run (of the given executors), row held; rows other claimers hold are skipped,
   * so concurrent claims never get the same run. Across tenants: one worker pool serves them all.
   */
  lockOldestPending(tx: EntityManager, executors: string[] | undefined): Promise<RunEntity | null> {
    // A run never started and past its TTL is the sweeper's to expire, never a worker's to start.
    const query = tx
      .createQueryBuilder(RunEntity, 'r')
      .where('r.status = :pending', { pending: 'pending' })
      .andWhere('(r.expires_at IS NULL OR r.expires_at > now() OR r.started_at IS NOT NULL)');
    if (executors !== undefined) query.andWhere('r.executor IN (:...executors)', { executors });
    return query.orderBy('r.id', 'ASC').limit(1).setLock('pessimistic_write').setOnLocked('skip_locked').getOne();
  }

  /** Running or cancelling runs whose lease ran out before `now` (across tenants: the sweeper's view). */
  findLeasesExpiredBefore(now: Date, limit: number): Promise<SweepCandidate[]> {
    return this.candidates(
      this.dataSource.manager
        .createQueryBuilder(RunEntity, 'r')
        .where('r.status IN (:...held)', { held: ['running', 'cancelling'] })
        .andWhere('r.lease_expires_at <= :now', { now }),
      limit,
    );
  }

  /**
   * Queued or pending runs past their TTL that never started (across tenants). The TTL bounds the wait
   * for a first start: a run back in pending after a lost lease or an answered wait has started.
   */
  findTtlExpiredBefore(now: Date, limit: number): Promise<SweepCandidate[]> {
    return this.candidates(
      this.dataSource.manager
        .createQueryBuilder(RunEntity, 'r')
        .where('r.status IN (:...waiting)', { waiting: ['queued', 'pending'] })
        .andWhere('r.started_at IS NULL')
        .andWhere('r.expires_at <= :now', { now }),
      limit,
    );
  }

  /** Running runs past their max duration (across tenants). */
  findDeadlinesPassedBefore(now: Date, limit: number): Promise<SweepCandidate[]> {
    return this.candidates(
      this.dataSource.manager
        .createQueryBuilder(RunEntity, 'r')
        .where('r.status IN (:...held)', { held: ['running', 'cancelling'] })
        .andWhere('r.deadline_at <= :now', { now }),
      limit,
    );
  }

  /**
   * Writes a change read at `version` and bumps the version: `WHERE id AND tenant_id AND version`.
   * Throws CONFLICT when the row moved on meanwhile (callers hold the row lock, so this means a bug or
   * a writer that bypassed the lock — never a silent overwrite).
   */
  async applyChange(tx: EntityManager, tenantId: string, runId: string, version: number, changes: RunChanges): Promise<void> {
    const result = await tx
      .createQueryBuilder()
      .update(RunEntity)
      .set({ ...withJsonbColumns<RunEntity>(changes), version: () => 'version + 1' })
      .where('id = :runId AND tenant_id = :tenantId AND version = :version', { runId, tenantId, version })
      .execute();
    if (result.affected !== 1) throw new DomainError(ErrorCode.CONFLICT, `run ${runId} changed concurrently; retry`);
  }

  private async candidates(query: SelectQueryBuilder<RunEntity>, limit: number): Promise<SweepCandidate[]> {
    const rows = await query.select(['r.tenantId', 'r.id']).orderBy('r.id', 'ASC').limit(limit).getMany();
    return rows.map((row) => ({ tenantId: row.tenantId, id: row.id }));
  }

  private visible(manager: EntityManager, tenantId: string, ownerId: OwnerFilter): SelectQueryBuilder<RunEntity> {
    const query = manager.createQueryBuilder(RunEntity, 'r').where('r.tenant_id = :tenantId', { tenantId });
    if (ownerId !== undefined) query.andWhere('r.owner_id = :ownerId', { ownerId });
    return query;
  }
}
