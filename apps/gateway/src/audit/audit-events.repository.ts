import { Inject, Injectable } from '@nestjs/common';
import { DataSource, type QueryDeepPartialEntity } from 'typeorm';
import type { KeysetPosition } from '../identity/keyset-page.js';
import { AuditEventEntity, type AuditOutcome } from './audit-event.entity.js';

export interface AuditEventFilter {
  action?: string;
  actorId?: string;
  targetType?: string;
  targetId?: string;
  outcome?: AuditOutcome;
  createdAfter?: Date;
  createdBefore?: Date;
}

@Injectable()
export class AuditEventsRepository {
  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}

  /**
   * One multi-row INSERT for a whole group-commit batch. Each row carries its own tenant (or null
   * for a system-level event), so there is no single tenant argument here.
   */
  async insertBatch(rows: AuditEventEntity[]): Promise<void> {
    // The cast spares the compiler from expanding the recursive JSON type of `metadata` (TS2589);
    // type-aware lint cannot see that it is needed.
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion
    await this.dataSource.getRepository(AuditEventEntity).insert(rows as QueryDeepPartialEntity<AuditEventEntity>[]);
  }

  /** One tenant's events, newest first, `limit` rows after `after`. */
  async listForTenant(tenantId: string, filter: AuditEventFilter, limit: number, after?: KeysetPosition): Promise<AuditEventEntity[]> {
    const query = this.dataSource
      .getRepository(AuditEventEntity)
      .createQueryBuilder('e')
      .where('e.tenantId = :tenantId', { tenantId });
    if (filter.action !== undefined) query.andWhere('e.action = :action', { action: filter.action });
    if (filter.actorId !== undefined) query.andWhere('e.actorId = :actorId', { actorId: filter.actorId });
    if (filter.targetType !== undefined) query.andWhere('e.targetType = :targetType', { targetType: filter.targetType });
    if (filter.targetId !== undefined) query.andWhere('e.targetId = :targetId', { targetId: filter.targetId });
    if (filter.outcome !== undefined) query.andWhere('e.outcome = :outcome', { outcome: filter.outcome });
    if (filter.createdAfter !== undefined) query.andWhere('e.createdAt > :createdAfter', { createdAfter: filter.createdAfter });
    if (filter.createdBefore !== undefined) query.andWhere('e.createdAt < :createdBefore', { createdBefore: filter.createdBefore });
    if (after) query.andWhere('(e.createdAt, e.id) < (:afterCreatedAt, :afterId)', { afterCreatedAt: after.createdAt, afterId: after.id });
    return query.orderBy('e.createdAt', 'DESC').addOrderBy('e.id', 'DESC').limit(limit).getMany();
  }
}
