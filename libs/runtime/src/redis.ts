import { hostname } from 'node:os';
import { Redis } from 'ioredis';
import type { ReadinessCheck } from './health.js';
import type { Logger } from './logger.js';

export interface RedisConnection {
  /** Names the connection on the server: `<service>-<hostname>`. */
  service: string;
  /** A command on a connection that stopped answering fails after this long; default: no limit. */
  commandTimeoutMs?: number;
}

/**
 * A service's Redis client. Commands fail at once while Redis is unreachable (no offline queue), so
 * callers decide — answer 503, or fail open — instead of hanging. Boot waits for the first
 * connection, like it does for NATS, so a replica that starts before Redis is not broken. Reconnect
 * errors are logged once per distinct error.
 */
export async function connectRedis(url: string, connection: RedisConnection, log: Logger): Promise<Redis> {
  const redis = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: connection.commandTimeoutMs,
    connectionName: `${connection.service}-${hostname()}`,
  });
  let lastError = '';
  redis.on('error', (error: Error) => {
    if (error.message === lastError) return;
    lastError = error.message;
    log.warn({ err: { message: error.message } }, 'redis connection error');
  });
  redis.on('ready', () => {
    if (lastError !== '') log.info('redis connection restored');
    lastError = '';
  });
  if (redis.status !== 'ready') await new Promise<void>((resolve) => redis.once('ready', () => resolve()));
  return redis;
}

/** Readiness: Redis answers a PING. */
export function redisReadiness(redis: Redis): ReadinessCheck {
  return {
    name: 'redis',
    check: async () => {
      await redis.ping();
    },
  };
}
