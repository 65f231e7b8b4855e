import { Injectable } from '@nestjs/common';
import { DomainError, ErrorCode } from '@runyard/contracts';
import type { AuthenticatedCaller } from './caller.js';
import { toPrincipalView, toTenantView, type MeView } from './identity.views.js';
import { PrincipalsRepository } from './principals.repository.js';
import { TenantsRepository } from './tenants.repository.js';

/** What the presented key is: its principal, tenant (none for the system key) and role. */
@Injectable()
export class MeService {
  constructor(
    private readonly principals: PrincipalsRepository,
    private readonly tenants: TenantsRepository,
  ) {}

  async describe(caller: AuthenticatedCaller): Promise<MeView> {
    const [principal, tenant] = await Promise.all([
      this.principals.findForCaller(caller.tenantId, caller.principalId),
      caller.tenantId === null ? Promise.resolve(null) : this.tenants.findById(caller.tenantId),
    ]);
    if (!principal || (caller.tenantId !== null && !tenant)) throw new DomainError(ErrorCode.NOT_FOUND, 'principal not found');
    return {
      principal: toPrincipalView(principal),
      tenant: tenant ? toTenantView(tenant) : null,
      role: principal.role,
      api_key: { id: caller.apiKeyId, prefix: caller.apiKeyPrefix },
    };
  }
}
