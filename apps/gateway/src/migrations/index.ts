import { CreateIdentity1763600000100 } from './1763600000100-CreateIdentity.js';
import { CreateAuditEvents1763600000101 } from './1763600000101-CreateAuditEvents.js';

/** In order; each runs in its own transaction (see runMigrations in @runyard/persistence). */
export const gatewayMigrations = [CreateIdentity1763600000100, CreateAuditEvents1763600000101];
