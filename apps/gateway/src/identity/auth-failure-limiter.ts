import type { Redis } from 'ioredis';
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import { createRateLimiter } from '../edge/rate-limit/rate-limiter.js';
import { GATEWAY_REDIS } from '../edge/tokens.js';

export const AUTH_FAILURE_LIMITER = Symbol('runyard.gateway.auth-failure-limiter');

/** Failed authentications one client address may make per window before it is refused unheard. */
export const AUTH_FAILURES_PER_WINDOW = 30;
export const AUTH_FAILURE_WINDOW_SECONDS = 60;

/**
 * The per-principal rate limit only applies once a key is valid, so guessing keys would otherwise be
 * unlimited, and each wrong key costs a database lookup and an audit row. Failures are counted per
 * client address (shared by replicas through Redis in distributed mode).
 */
export const authFailureLimiterProvider = {
  provide: AUTH_FAILURE_LIMITER,
  inject: [GATEWAY_REDIS],
  useFactory: (redis: Redis | null): RateLimiterAbstract =>
    createRateLimiter({
      points: AUTH_FAILURES_PER_WINDOW,
      durationSeconds: AUTH_FAILURE_WINDOW_SECONDS,
      redis: redis ?? undefined,
      keyPrefix: 'runyard:gateway:auth-failures',
    }),
};
