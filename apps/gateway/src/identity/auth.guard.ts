import { Inject, Injectable, Logger, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { DomainError, ErrorCode } from '@runyard/contracts';
import type { FastifyRequest } from 'fastify';
import { RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import '../audit/audit-context.js';
import { AuditService } from '../audit/audit.service.js';
import { ApiKeyAuthService, AuthenticationFailure } from './api-key-auth.service.js';
import { AUTH_FAILURE_LIMITER, AUTH_FAILURE_WINDOW_SECONDS, AUTH_FAILURES_PER_WINDOW } from './auth-failure-limiter.js';
import { PUBLIC_ROUTE, REQUIRED_ROLES } from './auth.decorators.js';
import type { CallerRole } from './caller.js';

/**
 * The first global guard: every route needs `Authorization: Bearer <api key>` unless `@Public()`.
 * Sets `request.caller`, then enforces `@RequireRole(...)`. A failed authentication is audited here
 * (`auth.failed`, with at most the key's visible prefix) and marked so the audit hook does not record
 * the same 401 again.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  private readonly logger = new Logger(AuthGuard.name);

  constructor(
    private readonly reflector: Reflector,
    private readonly auth: ApiKeyAuthService,
    private readonly audit: AuditService,
    @Inject(AUTH_FAILURE_LIMITER) private readonly failures: RateLimiterAbstract,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean | undefined>(PUBLIC_ROUTE, targets)) return true;

    const request = context.switchToHttp().getRequest<FastifyRequest>();
    await this.refuseAddressWithTooManyFailures(request);
    try {
      request.caller = await this.auth.authenticate(request.headers.authorization);
    } catch (error) {
      if (error instanceof AuthenticationFailure) {
        await this.failures.penalty(request.ip).catch(() => undefined);
        await this.recordFailure(request, error);
      }
      throw error;
    }

    const roles = this.reflector.getAllAndOverride<CallerRole[] | undefined>(REQUIRED_ROLES, targets);
    if (roles && !roles.includes(request.caller.role)) {
      throw new DomainError(ErrorCode.FORBIDDEN, `this operation requires the ${roles.join(' or ')} role`);
    }
    return true;
  }

  /** Before any lookup: an address past its failed-authentication budget gets 429 (limiter down: let it through). */
  private async refuseAddressWithTooManyFailures(request: FastifyRequest): Promise<void> {
    let spent: RateLimiterRes | null;
    try {
      spent = await this.failures.get(request.ip);
    } catch {
      return;
    }
    if (spent === null || spent.consumedPoints < AUTH_FAILURES_PER_WINDOW) return;
    const retryAfterSeconds = Math.max(1, Math.ceil(spent.msBeforeNext / 1000));
    throw new DomainError(
      ErrorCode.RATE_LIMITED,
      `Too many failed authentications from this address (${AUTH_FAILURES_PER_WINDOW} per ${AUTH_FAILURE_WINDOW_SECONDS} s); retry in ${retryAfterSeconds} s`,
      { retryAfterSeconds },
    );
  }

  private async recordFailure(request: FastifyRequest, failure: AuthenticationFailure): Promise<void> {
    (request.audit ??= {}).recorded = true;
    try {
      await this.audit.record({
        tenantId: failure.attempt.tenantId ?? null,
        actorId: null,
        actorKind: 'anonymous',
        action: 'auth.failed',
        targetType: failure.attempt.keyId ? 'api_key' : null,
        targetId: failure.attempt.keyId ?? null,
        outcome: 'failure',
        requestId: request.id,
        statusCode: 401,
        reason: failure.reason,
        metadata: {
          method: request.method,
          route: request.routeOptions.url ?? null,
          ...(failure.attempt.prefix ? { api_key_prefix: failure.attempt.prefix } : {}),
        },
      });
    } catch (error) {
      // The 401 stands either way; an unrecorded failure is logged (without any key material).
      this.logger.error(`auth.failed not recorded for request ${request.id}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}
