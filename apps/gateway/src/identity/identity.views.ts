import type { ApiKeyEntity } from './api-key.entity.js';
import type { PrincipalEntity, PrincipalKind, PrincipalRole } from './principal.entity.js';
import type { TenantEntity } from './tenant.entity.js';

/** Wire shapes (snake_case) of the identity resources. No view ever carries a key hash. */
export interface TenantView {
  id: string;
  name: string;
  created_at: string;
}

export interface PrincipalView {
  id: string;
  tenant_id: string | null;
  name: string;
  kind: PrincipalKind;
  role: PrincipalRole;
  created_at: string;
  disabled_at: string | null;
}

export interface ApiKeyView {
  id: string;
  name: string;
  prefix: string;
  principal_id: string;
  /** The role the key acts with: its principal's. */
  role: PrincipalRole;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
  created_by: string | null;
}

/** Returned by creation only: the plaintext key, shown this once. */
export interface CreatedApiKeyView extends ApiKeyView {
  key: string;
}

export interface CreatedTenantView {
  tenant: TenantView;
  principal: PrincipalView;
  api_key: CreatedApiKeyView;
}

export interface MeView {
  principal: PrincipalView;
  tenant: TenantView | null;
  role: PrincipalRole;
  api_key: { id: string; prefix: string };
}

/** A key joined with what authentication and views need from its principal. */
export interface ApiKeyWithPrincipal {
  key: ApiKeyEntity;
  principalRole: PrincipalRole;
  principalKind: PrincipalKind;
  principalDisabledAt: Date | null;
}

const iso = (date: Date | null): string | null => (date === null ? null : date.toISOString());

export function toTenantView(tenant: TenantEntity): TenantView {
  return { id: tenant.id, name: tenant.name, created_at: tenant.createdAt.toISOString() };
}

export function toPrincipalView(principal: PrincipalEntity): PrincipalView {
  return {
    id: principal.id,
    tenant_id: principal.tenantId,
    name: principal.name,
    kind: principal.kind,
    role: principal.role,
    created_at: principal.createdAt.toISOString(),
    disabled_at: iso(principal.disabledAt),
  };
}

export function toApiKeyView(key: ApiKeyEntity, role: PrincipalRole): ApiKeyView {
  return {
    id: key.id,
    name: key.name,
    prefix: key.prefix,
    principal_id: key.principalId,
    role,
    created_at: key.createdAt.toISOString(),
    last_used_at: iso(key.lastUsedAt),
    revoked_at: iso(key.revokedAt),
    created_by: key.createdBy,
  };
}
