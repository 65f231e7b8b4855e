import { AuditEventEntity } from './audit/audit-event.entity.js';
import { ApiKeyEntity } from './identity/api-key.entity.js';
import { PrincipalEntity } from './identity/principal.entity.js';
import { TenantEntity } from './identity/tenant.entity.js';

/** The gateway's Postgres schema; it owns these tables and no other service touches them. */
export const GATEWAY_SCHEMA = 'gateway';

export const gatewayEntities = [TenantEntity, PrincipalEntity, ApiKeyEntity, AuditEventEntity];
