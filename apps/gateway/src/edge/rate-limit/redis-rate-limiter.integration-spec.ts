import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { ExecutionContext } from '@nestjs/common';
import { ErrorCode } from '@runyard/contracts';
import { testInfra, uniqueName } from '@runyard/testing';
import { Redis } from 'ioredis';
import type { GatewaySettings } from '../../config.js';
import { RateLimitGuard } from './rate-limit.guard.js';
import { createRateLimiter } from './rate-limiter.js';

const settings: GatewaySettings = { bodyLimitBytes: 1 << 20, rateLimitPoints: 4, rateLimitDurationSeconds: 30, requestTimeoutMs: 1000 };
const prefix = uniqueName('rate');
const clients = [new Redis(testInfra.redisUrl), new Redis(testInfra.redisUrl)];

// The limiter refuses to queue commands on a client that is not ready (it fails open instead).
beforeAll(async () => {
  await Promise.all(clients.map((client) => client.ping()));
});

afterAll(async () => {
  const keys = await clients[0].keys(`${prefix}*`);
  if (keys.length > 0) await clients[0].del(...keys);
  await Promise.all(clients.map((client) => client.quit()));
});

function contextFor(principalId: string): { context: ExecutionContext; headers: Record<string, string> } {
  const headers: Record<string, string> = {};
  const request = { caller: { kind: 'tenant', tenantId: 't', principalId, role: 'member', apiKeyId: 'k', apiKeyPrefix: 'ryk_x' }, log: { warn: () => undefined } };
  const reply = {
    headers: (values: Record<string, string>) => {
      Object.assign(headers, values);
      return reply;
    },
  };
  const context = { getType: () => 'http', switchToHttp: () => ({ getRequest: () => request, getResponse: () => reply }) } as unknown as ExecutionContext;
  return { context, headers };
}

describe('RateLimitGuard on Redis', () => {
  // Two guards on two clients: two gateway replicas sharing one budget per principal.
  const replicas = clients.map(
    (redis) => new RateLimitGuard(createRateLimiter({ points: settings.rateLimitPoints, durationSeconds: settings.rateLimitDurationSeconds, redis, keyPrefix: prefix }), settings),
  );

  it('shares one budget per principal across replicas, then answers 429 with the reset time', async () => {
    const key = uniqueName('principal');
    for (let i = 0; i < 4; i += 1) {
      const { context, headers } = contextFor(key);
      expect(await replicas[i % 2].canActivate(context)).toBe(true);
      expect(headers['ratelimit-remaining']).toBe(String(3 - i));
    }
    const over = contextFor(key);
    await expect(replicas[0].canActivate(over.context)).rejects.toMatchObject({ code: ErrorCode.RATE_LIMITED, details: { retryAfterSeconds: expect.any(Number) } });
    expect(Number(over.headers['ratelimit-reset'])).toBeGreaterThan(25);
    expect(Number(over.headers['ratelimit-reset'])).toBeLessThanOrEqual(30);

    // Another principal has its own budget.
    expect(await replicas[1].canActivate(contextFor(uniqueName('principal')).context)).toBe(true);
  });

  it('keeps its counters under its key prefix with the window as TTL', async () => {
    const key = uniqueName('key');
    await replicas[0].canActivate(contextFor(key).context);
    const stored = await clients[0].keys(`${prefix}*${key}`);
    expect(stored).toHaveLength(1);
    const ttl = await clients[0].pttl(stored[0]);
    expect(ttl).toBeGreaterThan(25_000);
    expect(ttl).toBeLessThanOrEqual(30_000);
  });
});
