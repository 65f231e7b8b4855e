import { Inject, Injectable } from '@nestjs/common';
import { DataSource, IsNull, Not, type EntityManager } from 'typeorm';
import { ApiKeyEntity } from './api-key.entity.js';
import { PrincipalEntity } from './principal.entity.js';

/** Serialises system-key bootstrap across replicas (transaction-scoped, released at commit). */
const SYSTEM_KEY_LOCK_SQL = `SELECT pg_advisory_xact_lock(hashtext('runyard.gateway.system-key'))`;

export interface SystemKeyCandidate {
  /** Used only if no system principal exists yet. */
  principal: PrincipalEntity;
  /** Its `principalId` is set to the system principal's id here. */
  key: ApiKeyEntity;
}

/**
 * The system key lives outside every tenant (tenant_id null), so these methods have no tenant
 * argument; they touch only the system principal and system keys. Besides the advisory lock, unique
 * partial indexes (one system principal, one unrevoked system key) make a lost race fail loudly
 * rather than create a second key.
 */
@Injectable()
export class SystemKeyRepository {
  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}

  /** Makes `candidate.key` (by hash) the one valid system key: restores it if revoked, revokes any other. */
  async activateSystemKey(candidate: SystemKeyCandidate, now: Date): Promise<void> {
    await this.dataSource.transaction(async (manager) => {
      await manager.query(SYSTEM_KEY_LOCK_SQL);
      const principalId = await this.ensureSystemPrincipal(manager, candidate.principal);
      await manager.update(ApiKeyEntity, { tenantId: IsNull(), revokedAt: IsNull(), keyHash: Not(candidate.key.keyHash) }, { revokedAt: now });
      const existing = await manager.findOneBy(ApiKeyEntity, { keyHash: candidate.key.keyHash });
      if (existing) {
        if (existing.tenantId !== null) throw new Error('the configured system key is already a tenant API key');
        if (existing.revokedAt !== null) await manager.update(ApiKeyEntity, { id: existing.id }, { revokedAt: null });
        return;
      }
      await manager.insert(ApiKeyEntity, { ...candidate.key, principalId });
    });
  }

  /** Inserts `candidate.key` only if no valid system key exists; true if it did. */
  async insertSystemKeyIfNone(candidate: SystemKeyCandidate): Promise<boolean> {
    return this.dataSource.transaction(async (manager) => {
      await manager.query(SYSTEM_KEY_LOCK_SQL);
      const principalId = await this.ensureSystemPrincipal(manager, candidate.principal);
      if (await manager.existsBy(ApiKeyEntity, { tenantId: IsNull(), revokedAt: IsNull() })) return false;
      await manager.insert(ApiKeyEntity, { ...candidate.key, principalId });
      return true;
    });
  }

  private async ensureSystemPrincipal(manager: EntityManager, candidate: PrincipalEntity): Promise<string> {
    const existing = await manager.findOneBy(PrincipalEntity, { kind: 'system' });
    if (existing) return existing.id;
    await manager.insert(PrincipalEntity, candidate);
    return candidate.id;
  }
}
