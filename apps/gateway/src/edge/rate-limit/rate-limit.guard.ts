import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { DomainError, ErrorCode } from '@runyard/contracts';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { GatewaySettings } from '../../config.js';
import { GATEWAY_SETTINGS } from '../tokens.js';
import { RATE_LIMITER } from './rate-limiter.js';

/** At most one "limiter unavailable" warning per this many ms, so an outage does not flood the log. */
const WARN_INTERVAL_MS = 10_000;

/**
 * Per-principal rate limit: every API key of a principal draws on one budget, so minting more keys
 * (which members may do) buys no more requests. Runs after the AuthGuard (it needs `request.caller`). Every limited
 * response carries `RateLimit-Limit/Remaining/Reset`; over the limit → 429 `rate_limited` with
 * `Retry-After`. Public routes (health probes, OpenAPI) have no key and are not limited.
 */
@Injectable()
export class RateLimitGuard implements CanActivate {
  private lastWarning = 0;

  constructor(
    @Inject(RATE_LIMITER) private readonly limiter: RateLimiterAbstract,
    @Inject(GATEWAY_SETTINGS) private readonly settings: GatewaySettings,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const http = context.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const reply = http.getResponse<FastifyReply>();
    if (!request.caller) return true;

    let result: RateLimiterRes;
    try {
      result = await this.limiter.consume(request.caller.principalId);
    } catch (rejection) {
      if (!(rejection instanceof RateLimiterRes)) {
        // Fail open: the limiter protects capacity, it is not a security boundary (authentication and
        // tenancy are enforced elsewhere). Refusing every request while Redis is down would turn a
        // cache outage into a full API outage, so requests pass unlimited and the outage is logged.
        this.warnUnavailable(request, rejection);
        return true;
      }
      this.setHeaders(reply, rejection);
      const retryAfterSeconds = Math.max(1, Math.ceil(rejection.msBeforeNext / 1000));
      throw new DomainError(
        ErrorCode.RATE_LIMITED,
        `Rate limit of ${this.settings.rateLimitPoints} requests per ${this.settings.rateLimitDurationSeconds} s exceeded; retry in ${retryAfterSeconds} s`,
        { retryAfterSeconds },
      );
    }
    this.setHeaders(reply, result);
    return true;
  }

  private setHeaders(reply: FastifyReply, result: RateLimiterRes): void {
    void reply.headers({
      'ratelimit-limit': String(this.settings.rateLimitPoints),
      'ratelimit-remaining': String(Math.max(0, result.remainingPoints)),
      'ratelimit-reset': String(Math.max(0, Math.ceil(result.msBeforeNext / 1000))),
    });
  }

  private warnUnavailable(request: FastifyRequest, error: unknown): void {
    const now = Date.now();
    if (now - this.lastWarning < WARN_INTERVAL_MS) return;
    this.lastWarning = now;
    const message = error instanceof Error ? error.message : String(error);
    request.log.warn({ err: { message } }, 'rate limiter unavailable; failing open');
  }
}
