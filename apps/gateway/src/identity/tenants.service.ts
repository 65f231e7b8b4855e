import { Inject, Injectable } from '@nestjs/common';
import { DomainError, ErrorCode } from '@runyard/contracts';
import { v7 as uuidv7 } from 'uuid';
import { ApiKeyEntity } from './api-key.entity.js';
import { generateApiKey } from './api-key-material.js';
import type { AuthenticatedCaller } from './caller.js';
import { CLOCK, type Clock } from './clock.js';
import { toApiKeyView, toPrincipalView, toTenantView, type CreatedTenantView } from './identity.views.js';
import { PrincipalEntity } from './principal.entity.js';
import type { CreateTenantBody } from './tenants.dto.js';
import { TenantEntity } from './tenant.entity.js';
import { TenantsRepository } from './tenants.repository.js';

const DEFAULT_ADMIN_NAME = 'admin';
const FIRST_KEY_NAME = 'initial admin key';

@Injectable()
export class TenantsService {
  constructor(
    private readonly tenants: TenantsRepository,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /**
   * System key only. Creates the tenant with its first admin and that admin's key in one transaction,
   * so a tenant never exists without someone able to administer it.
   */
  async create(caller: AuthenticatedCaller, body: CreateTenantBody): Promise<CreatedTenantView> {
    if (caller.kind !== 'system') throw new DomainError(ErrorCode.FORBIDDEN, 'only the system key can create tenants');
    const now = this.clock.now();

    const tenant = new TenantEntity();
    tenant.id = uuidv7();
    tenant.name = body.name;
    tenant.createdAt = now;

    const admin = new PrincipalEntity();
    admin.id = uuidv7();
    admin.tenantId = tenant.id;
    admin.name = body.admin_name ?? DEFAULT_ADMIN_NAME;
    admin.kind = 'user';
    admin.role = 'admin';
    admin.createdAt = now;
    admin.disabledAt = null;

    const material = generateApiKey();
    const key = new ApiKeyEntity();
    key.id = uuidv7();
    key.tenantId = tenant.id;
    key.principalId = admin.id;
    key.name = FIRST_KEY_NAME;
    key.prefix = material.prefix;
    key.keyHash = material.keyHash;
    key.createdAt = now;
    key.lastUsedAt = null;
    key.revokedAt = null;
    key.createdBy = caller.principalId;

    await this.tenants.insertWithFirstAdmin(tenant, admin, key);
    return {
      tenant: toTenantView(tenant),
      principal: toPrincipalView(admin),
      api_key: { ...toApiKeyView(key, admin.role), key: material.key },
    };
  }
}
