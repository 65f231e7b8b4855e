import { Inject, Injectable } from '@nestjs/common';
import { DataSource, IsNull, LessThan, Or, type SelectQueryBuilder } from 'typeorm';
import { ApiKeyEntity } from './api-key.entity.js';
import type { ApiKeyWithPrincipal } from './identity.views.js';
import type { KeysetPosition } from './keyset-page.js';
import { PrincipalEntity, type PrincipalKind, type PrincipalRole } from './principal.entity.js';

interface PrincipalColumns {
  k_id: string;
  p_role: PrincipalRole;
  p_kind: PrincipalKind;
  p_disabled_at: Date | null;
}

@Injectable()
export class ApiKeysRepository {
  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}

  async insert(tenantId: string, key: ApiKeyEntity): Promise<void> {
    if (key.tenantId !== tenantId) throw new Error('API key must belong to the tenant it is inserted into');
    await this.dataSource.getRepository(ApiKeyEntity).insert(key);
  }

  /**
   * The authentication lookup: one probe of the unique `key_hash` index, joined with the principal.
   * Not tenant-scoped by design: the key is what establishes the tenant.
   */
  async findCredentialByHash(keyHash: string): Promise<ApiKeyWithPrincipal | null> {
    const [found] = await this.fetch(this.withPrincipal().where('k.keyHash = :keyHash', { keyHash }));
    return found ?? null;
  }

  /** One key of the tenant; with `ownerId`, only if that principal owns it (members see their own keys only). */
  async findInTenant(tenantId: string, keyId: string, ownerId?: string): Promise<ApiKeyWithPrincipal | null> {
    const query = this.withPrincipal().where('k.tenantId = :tenantId', { tenantId }).andWhere('k.id = :keyId', { keyId });
    if (ownerId !== undefined) query.andWhere('k.principalId = :ownerId', { ownerId });
    const [found] = await this.fetch(query);
    return found ?? null;
  }

  /** Newest first, `limit` rows after `after`; with `ownerId`, only that principal's keys. */
  async listInTenant(tenantId: string, limit: number, after?: KeysetPosition, ownerId?: string): Promise<ApiKeyWithPrincipal[]> {
    const query = this.withPrincipal().where('k.tenantId = :tenantId', { tenantId });
    if (ownerId !== undefined) query.andWhere('k.principalId = :ownerId', { ownerId });
    if (after) query.andWhere('(k.createdAt, k.id) < (:afterCreatedAt, :afterId)', { afterCreatedAt: after.createdAt, afterId: after.id });
    return this.fetch(query.orderBy('k.createdAt', 'DESC').addOrderBy('k.id', 'DESC').limit(limit));
  }

  /** Sets `revoked_at` unless already set (so revoking twice keeps the first instant). */
  async markRevoked(tenantId: string, keyId: string, at: Date): Promise<void> {
    await this.dataSource.getRepository(ApiKeyEntity).update({ id: keyId, tenantId, revokedAt: IsNull() }, { revokedAt: at });
  }

  /**
   * Records use of a key, unless it was recorded since `notBefore`: the condition keeps replicas from
   * all writing the same row on every request. `tenantId` null is the system key.
   */
  async touchLastUsed(tenantId: string | null, keyId: string, at: Date, notBefore: Date): Promise<void> {
    await this.dataSource
      .getRepository(ApiKeyEntity)
      .update({ id: keyId, tenantId: tenantId ?? IsNull(), lastUsedAt: Or(IsNull(), LessThan(notBefore)) }, { lastUsedAt: at });
  }

  private withPrincipal(): SelectQueryBuilder<ApiKeyEntity> {
    return this.dataSource
      .getRepository(ApiKeyEntity)
      .createQueryBuilder('k')
      .innerJoin(PrincipalEntity, 'p', 'p.id = k.principalId')
      .addSelect(['p.role', 'p.kind', 'p.disabledAt']);
  }

  private async fetch(query: SelectQueryBuilder<ApiKeyEntity>): Promise<ApiKeyWithPrincipal[]> {
    const { entities, raw } = await query.getRawAndEntities<PrincipalColumns>();
    const principalOf = new Map(raw.map((row) => [row.k_id, row]));
    return entities.map((key) => {
      const principal = principalOf.get(key.id);
      if (!principal) throw new Error(`API key ${key.id} came back without its principal`);
      return { key, principalRole: principal.p_role, principalKind: principal.p_kind, principalDisabledAt: principal.p_disabled_at };
    });
  }
}
