import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, type RateLimiterAbstract } from 'rate-limiter-flexible';

export const RATE_LIMITER = Symbol('runyard.gateway.rate-limiter');

export interface RateLimiterOptions {
  points: number;
  durationSeconds: number;
  /** Distributed mode: counters shared by every replica. Absent: this process only (standalone). */
  redis?: Redis;
  keyPrefix?: string;
}

/** A fixed window of `points` per `durationSeconds` per key; the whole window may be spent at once. */
export function createRateLimiter(options: RateLimiterOptions): RateLimiterAbstract {
  const common = { points: options.points, duration: options.durationSeconds, keyPrefix: options.keyPrefix ?? 'runyard:gateway:rate' };
  if (!options.redis) return new RateLimiterMemory(common);
  // Not ready (reconnecting) → reject at once instead of queueing the command, so the guard can
  // fail open without making the request wait for Redis.
  return new RateLimiterRedis({ ...common, storeClient: options.redis, rejectIfRedisNotReady: true });
}
