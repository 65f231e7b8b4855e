import { Inject, Injectable } from '@nestjs/common';
import { DomainError, ErrorCode, type Page } from '@runyard/contracts';
import { v7 as uuidv7 } from 'uuid';
import { toCallerScope, type AuthenticatedCaller } from './caller.js';
import { CLOCK, type Clock } from './clock.js';
import { toPrincipalView, type PrincipalView } from './identity.views.js';
import { rowsToFetch, toPage } from '@runyard/persistence';
import { decodeKeysetCursor, keysetCursor } from './keyset-page.js';
import { PrincipalEntity } from './principal.entity.js';
import type { CreatePrincipalBody, ListPrincipalsQuery } from './principals.dto.js';
import { PrincipalsRepository } from './principals.repository.js';

/** Who acts inside a tenant. Managing principals is for tenant admins only. */
@Injectable()
export class PrincipalsService {
  constructor(
    private readonly principals: PrincipalsRepository,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async create(caller: AuthenticatedCaller, body: CreatePrincipalBody): Promise<PrincipalView> {
    const tenantId = this.adminTenant(caller);
    const principal = new PrincipalEntity();
    principal.id = uuidv7();
    principal.tenantId = tenantId;
    principal.name = body.name;
    principal.kind = body.kind;
    principal.role = body.role;
    principal.createdAt = this.clock.now();
    principal.disabledAt = null;
    await this.principals.insert(tenantId, principal);
    return toPrincipalView(principal);
  }

  async list(caller: AuthenticatedCaller, query: ListPrincipalsQuery): Promise<Page<PrincipalView>> {
    const tenantId = this.adminTenant(caller);
    const rows = await this.principals.listInTenant(tenantId, rowsToFetch(query.limit), decodeKeysetCursor(query.cursor));
    return toPage(rows, query.limit, toPrincipalView, keysetCursor);
  }

  private adminTenant(caller: AuthenticatedCaller): string {
    const scope = toCallerScope(caller);
    if (scope.role !== 'admin') throw new DomainError(ErrorCode.FORBIDDEN, 'only tenant admins can manage principals');
    return scope.tenant_id;
  }
}
