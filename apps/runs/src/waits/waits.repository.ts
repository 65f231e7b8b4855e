import { Injectable } from '@nestjs/common';
import { withJsonbColumns } from '@runyard/persistence';
import { DataSource, type EntityManager } from 'typeorm';
import type { SweepCandidate } from '../runs/runs.repository.js';
import { WaitEntity } from './wait.entity.js';

export type WaitChanges = Partial<Pick<WaitEntity, 'status' | 'decision' | 'answer' | 'answeredBy' | 'answeredAt' | 'updatedAt'>>;

/**
 * Waits, always within a tenant and a run. Writers lock the run's row first and then its waits, in
 * that order everywhere (answers, cancels, the sweeper), so they never deadlock.
 */
@Injectable()
export class WaitsRepository {
  constructor(private readonly dataSource: DataSource) {}

  findByKey(tx: EntityManager, tenantId: string, runId: string, key: string): Promise<WaitEntity | null> {
    return tx
      .createQueryBuilder(WaitEntity, 'w')
      .where('w.tenant_id = :tenantId AND w.run_id = :runId AND w.key = :key', { tenantId, runId, key })
      .getOne();
  }

  /** The wait of that run as it is now, nothing locked (an answer validates against its schema before locking anything). */
  findInRun(tenantId: string, runId: string, waitId: string): Promise<WaitEntity | null> {
    return this.dataSource.manager
      .createQueryBuilder(WaitEntity, 'w')
      .where('w.tenant_id = :tenantId AND w.run_id = :runId AND w.id = :waitId', { tenantId, runId, waitId })
      .getOne();
  }

  /** How many waits the run has opened, whatever became of them. Call with the run's row locked. */
  countInRun(tx: EntityManager, tenantId: string, runId: string): Promise<number> {
    return tx.createQueryBuilder(WaitEntity, 'w').where('w.tenant_id = :tenantId AND w.run_id = :runId', { tenantId, runId }).getCount();
  }

  /** The wait of that run, row held until the transaction ends. */
  lockInRun(tx: EntityManager, tenantId: string, runId: string, waitId: string): Promise<WaitEntity | null> {
    return tx
      .createQueryBuilder(WaitEntity, 'w')
      .where('w.tenant_id = :tenantId AND w.run_id = :runId AND w.id = :waitId', { tenantId, runId, waitId })
      .setLock('pessimistic_write')
      .getOne();
  }

  /** The run's open waits, rows held, oldest first. */
  lockOpenInRun(tx: EntityManager, tenantId: string, runId: string): Promise<WaitEntity[]> {
    return tx
      .createQueryBuilder(WaitEntity, 'w')
      .where('w.tenant_id = :tenantId AND w.run_id = :runId AND w.status = :open', { tenantId, runId, open: 'open' })
      .orderBy('w.id', 'ASC')
      .setLock('pessimistic_write')
      .getMany();
  }

  async insertWait(tx: EntityManager, wait: WaitEntity): Promise<void> {
    await tx.insert(WaitEntity, withJsonbColumns(wait));
  }

  async applyChange(tx: EntityManager, tenantId: string, waitIds: string[], changes: WaitChanges): Promise<void> {
    if (waitIds.length === 0) return;
    await tx
      .createQueryBuilder()
      .update(WaitEntity)
      .set(withJsonbColumns<WaitEntity>(changes))
      .where('tenant_id = :tenantId AND id IN (:...waitIds)', { tenantId, waitIds })
      .execute();
  }

  /** Oldest first (UUIDv7 ids are time-ordered); `afterId` continues after the last wait of the previous page. */
  listInRun(tenantId: string, runId: string, page: { afterId?: string; take?: number }, manager: EntityManager = this.dataSource.manager): Promise<WaitEntity[]> {
    const query = manager.createQueryBuilder(WaitEntity, 'w').where('w.tenant_id = :tenantId AND w.run_id = :runId', { tenantId, runId });
    if (page.afterId !== undefined) query.andWhere('w.id > :afterId', { afterId: page.afterId });
    query.orderBy('w.id', 'ASC');
    if (page.take !== undefined) query.limit(page.take);
    return query.getMany();
  }

  /** Runs with an open wait whose timeout passed before `now` (across tenants: the sweeper's view). */
  async findTimedOutBefore(now: Date, limit: number): Promise<SweepCandidate[]> {
    const rows = await this.dataSource.manager.query<{ tenant_id: string; run_id: string }[]>(
      `SELECT tenant_id, run_id FROM waits
       WHERE status = 'open' AND timeout_at <= $1
       GROUP BY tenant_id, run_id ORDER BY min(timeout_at) LIMIT $2`,
      [now, limit],
    );
    return rows.map((row) => ({ tenantId: row.tenant_id, id: row.run_id }));
  }
}
