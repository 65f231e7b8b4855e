import { Inject, Injectable } from '@nestjs/common';
import { DataSource, IsNull } from 'typeorm';
import type { KeysetPosition } from './keyset-page.js';
import { PrincipalEntity } from './principal.entity.js';

@Injectable()
export class PrincipalsRepository {
  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}

  async insert(tenantId: string, principal: PrincipalEntity): Promise<void> {
    if (principal.tenantId !== tenantId) throw new Error('principal must belong to the tenant it is inserted into');
    await this.dataSource.getRepository(PrincipalEntity).insert(principal);
  }

  async findInTenant(tenantId: string, principalId: string): Promise<PrincipalEntity | null> {
    return this.dataSource.getRepository(PrincipalEntity).findOneBy({ id: principalId, tenantId });
  }

  /** A caller's own principal; `tenantId` null finds the system principal (the system key's). */
  async findForCaller(tenantId: string | null, principalId: string): Promise<PrincipalEntity | null> {
    return this.dataSource.getRepository(PrincipalEntity).findOneBy({ id: principalId, tenantId: tenantId ?? IsNull() });
  }

  /** Newest first, `limit` rows after `after`. */
  async listInTenant(tenantId: string, limit: number, after?: KeysetPosition): Promise<PrincipalEntity[]> {
    const query = this.dataSource.getRepository(PrincipalEntity).createQueryBuilder('p').where('p.tenantId = :tenantId', { tenantId });
    if (after) query.andWhere('(p.createdAt, p.id) < (:afterCreatedAt, :afterId)', { afterCreatedAt: after.createdAt, afterId: after.id });
    return query.orderBy('p.createdAt', 'DESC').addOrderBy('p.id', 'DESC').limit(limit).getMany();
  }
}
