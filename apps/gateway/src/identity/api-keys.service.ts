import { Inject, Injectable } from '@nestjs/common';
import { DomainError, ErrorCode, ownerFilter, type Page } from '@runyard/contracts';
import { v7 as uuidv7, validate as isUuid } from 'uuid';
import { ApiKeyAuthService } from './api-key-auth.service.js';
import { ApiKeyEntity } from './api-key.entity.js';
import { generateApiKey } from './api-key-material.js';
import type { CreateApiKeyBody, ListApiKeysQuery } from './api-keys.dto.js';
import { ApiKeysRepository } from './api-keys.repository.js';
import { toCallerScope, type AuthenticatedCaller } from './caller.js';
import { CLOCK, type Clock } from './clock.js';
import { toApiKeyView, type ApiKeyView, type CreatedApiKeyView } from './identity.views.js';
import { rowsToFetch, toPage } from '@runyard/persistence';
import { decodeKeysetCursor, keysetCursor } from './keyset-page.js';
import { PrincipalsRepository } from './principals.repository.js';

/**
 * API keys of a tenant. Admins manage every key of their tenant; members only their own. Anything
 * outside that reach answers NOT_FOUND, exactly like an id that does not exist, so ids of other
 * tenants or principals cannot be probed.
 */
@Injectable()
export class ApiKeysService {
  constructor(
    private readonly apiKeys: ApiKeysRepository,
    private readonly principals: PrincipalsRepository,
    private readonly auth: ApiKeyAuthService,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /** The plaintext key is in this response only; it is not stored anywhere. */
  async create(caller: AuthenticatedCaller, body: CreateApiKeyBody): Promise<CreatedApiKeyView> {
    const scope = toCallerScope(caller);
    const ownerId = body.principal_id ?? scope.principal_id;
    if (scope.role !== 'admin' && ownerId !== scope.principal_id) throw new DomainError(ErrorCode.NOT_FOUND, 'principal not found');
    const owner = await this.principals.findInTenant(scope.tenant_id, ownerId);
    if (!owner) throw new DomainError(ErrorCode.NOT_FOUND, 'principal not found');
    if (owner.disabledAt !== null) throw new DomainError(ErrorCode.CONFLICT, 'principal is disabled');

    const material = generateApiKey();
    const key = new ApiKeyEntity();
    key.id = uuidv7();
    key.tenantId = scope.tenant_id;
    key.principalId = owner.id;
    key.name = body.name;
    key.prefix = material.prefix;
    key.keyHash = material.keyHash;
    key.createdAt = this.clock.now();
    key.lastUsedAt = null;
    key.revokedAt = null;
    key.createdBy = scope.principal_id;
    await this.apiKeys.insert(scope.tenant_id, key);
    return { ...toApiKeyView(key, owner.role), key: material.key };
  }

  async list(caller: AuthenticatedCaller, query: ListApiKeysQuery): Promise<Page<ApiKeyView>> {
    const scope = toCallerScope(caller);
    const rows = await this.apiKeys.listInTenant(scope.tenant_id, rowsToFetch(query.limit), decodeKeysetCursor(query.cursor), ownerFilter(scope));
    return toPage(rows, query.limit, (row) => toApiKeyView(row.key, row.principalRole), (row) => keysetCursor(row.key));
  }

  /** Idempotent: revoking a revoked key returns it unchanged (with its first `revoked_at`). */
  async revoke(caller: AuthenticatedCaller, keyId: string): Promise<ApiKeyView> {
    const scope = toCallerScope(caller);
    if (!isUuid(keyId)) throw new DomainError(ErrorCode.NOT_FOUND, 'API key not found');
    const owner = ownerFilter(scope);
    const found = await this.apiKeys.findInTenant(scope.tenant_id, keyId, owner);
    if (!found) throw new DomainError(ErrorCode.NOT_FOUND, 'API key not found');
    if (found.key.revokedAt === null) {
      await this.apiKeys.markRevoked(scope.tenant_id, keyId, this.clock.now());
      this.auth.revoked(keyId);
    }
    const revoked = await this.apiKeys.findInTenant(scope.tenant_id, keyId, owner);
    if (!revoked) throw new DomainError(ErrorCode.NOT_FOUND, 'API key not found');
    return toApiKeyView(revoked.key, revoked.principalRole);
  }
}
