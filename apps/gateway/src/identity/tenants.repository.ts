import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { ApiKeyEntity } from './api-key.entity.js';
import { PrincipalEntity } from './principal.entity.js';
import { TenantEntity } from './tenant.entity.js';

@Injectable()
export class TenantsRepository {
  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}

  /** A tenant, its first admin and that admin's key: all three or none. */
  async insertWithFirstAdmin(tenant: TenantEntity, admin: PrincipalEntity, adminKey: ApiKeyEntity): Promise<void> {
    if (admin.tenantId !== tenant.id || adminKey.tenantId !== tenant.id) throw new Error('first admin and key must belong to the new tenant');
    await this.dataSource.transaction(async (manager) => {
      await manager.insert(TenantEntity, tenant);
      await manager.insert(PrincipalEntity, admin);
      await manager.insert(ApiKeyEntity, adminKey);
    });
  }

  async findById(tenantId: string): Promise<TenantEntity | null> {
    return this.dataSource.getRepository(TenantEntity).findOneBy({ id: tenantId });
  }
}
