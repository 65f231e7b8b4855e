import { SetMetadata } from '@nestjs/common';

export const AUDITED = 'runyard:audited';

export interface AuditedMetadata {
  action: string;
  targetType: string;
}

/**
 * Names what a mutating route does for the audit trail, e.g. `@Audited('session.create', 'session')`.
 * Routes without it are still recorded, as `"<METHOD> <route pattern>"`.
 */
export const Audited = (action: string, targetType: string): MethodDecorator =>
  SetMetadata(AUDITED, { action, targetType } satisfies AuditedMetadata);
