import { Type } from 'class-transformer';
import { IsDefined, IsIn, IsObject, IsUUID, ValidateNested } from 'class-validator';

export const ROLES = ['admin', 'member'] as const;
export type Role = (typeof ROLES)[number];

/**
 * Who is calling, as authenticated by the gateway. Every command that reads or writes tenant data
 * carries it, and every repository method takes `tenant_id` (and, for members, `principal_id`) from it.
 */
export class CallerScope {
  @IsUUID()
  tenant_id!: string;

  @IsUUID()
  principal_id!: string;

  @IsIn(ROLES)
  role!: Role;
}

/** Admins see their whole tenant; members only what they own. */
export function ownerFilter(scope: CallerScope): string | undefined {
  return scope.role === 'admin' ? undefined : scope.principal_id;
}

/** The payload of every command on behalf of a principal: it carries the caller's scope. */
export abstract class ScopedPayload {
  @IsDefined()
  @IsObject()
  @ValidateNested()
  @Type(() => CallerScope)
  scope!: CallerScope;
}
