import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import { CallerScope, DomainError, ErrorCode } from '@runyard/contracts';
import type { FastifyRequest } from 'fastify';

export type CallerRole = 'system' | 'admin' | 'member';

/**
 * Who is calling, as established by the AuthGuard from the API key. The system key (operator-level:
 * manages tenants) is the only caller without a tenant.
 */
export interface AuthenticatedCaller {
  kind: 'system' | 'tenant';
  /** null only for the system key. */
  tenantId: string | null;
  principalId: string;
  role: CallerRole;
  apiKeyId: string;
  /** The visible part of the key (`ryk_<12 chars>`); never the secret. */
  apiKeyPrefix: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the AuthGuard on every authenticated request. */
    caller?: AuthenticatedCaller;
  }
}

/**
 * The scope sent with every tenant-data command. The system key has no tenant, so it cannot act on
 * tenant data: it is refused here rather than sent downstream with a made-up scope.
 */
export function toCallerScope(caller: AuthenticatedCaller): CallerScope {
  if (caller.kind === 'system' || caller.tenantId === null || caller.role === 'system') {
    throw new DomainError(ErrorCode.FORBIDDEN, 'the system key manages tenants; use a tenant API key');
  }
  const scope = new CallerScope();
  scope.tenant_id = caller.tenantId;
  scope.principal_id = caller.principalId;
  scope.role = caller.role;
  return scope;
}

/** The caller of the current request; only on routes the AuthGuard protects (not `@Public()`). */
export const Caller = createParamDecorator((_data: unknown, context: ExecutionContext): AuthenticatedCaller => {
  const request = context.switchToHttp().getRequest<FastifyRequest>();
  if (!request.caller) throw new DomainError(ErrorCode.UNAUTHENTICATED, 'authentication required');
  return request.caller;
});
