import { describe, expect, it, jest } from '@jest/globals';
import type { ExecutionContext } from '@nestjs/common';
import { DomainError, ErrorCode } from '@runyard/contracts';
import type { FastifyRequest } from 'fastify';
import { Redis } from 'ioredis';
import type { GatewaySettings } from '../../config.js';
import { toProblem } from '../problem.js';
import { RateLimitGuard } from './rate-limit.guard.js';
import { createRateLimiter } from './rate-limiter.js';

const settings: GatewaySettings = { bodyLimitBytes: 1 << 20, rateLimitPoints: 3, rateLimitDurationSeconds: 10, requestTimeoutMs: 1000 };

function call(principalId: string | undefined, apiKeyId = 'key-1') {
  const headers: Record<string, string> = {};
  const warn = jest.fn();
  const request = {
    id: 'req-1',
    method: 'GET',
    url: '/v1/sessions',
    caller: principalId === undefined ? undefined : { kind: 'tenant', tenantId: 't', principalId, role: 'member', apiKeyId, apiKeyPrefix: 'ryk_x' },
    log: { warn },
  } as unknown as FastifyRequest;
  const reply = {
    headers: (values: Record<string, string>) => {
      Object.assign(headers, values);
      return reply;
    },
  };
  const context = {
    getType: () => 'http',
    switchToHttp: () => ({ getRequest: () => request, getResponse: () => reply }),
  } as unknown as ExecutionContext;
  return { context, headers, request, warn };
}

async function rejectionOf(promise: Promise<unknown>): Promise<DomainError> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  if (!(error instanceof DomainError)) throw new Error(`expected a DomainError, got ${String(error)}`);
  return error;
}

describe('RateLimitGuard (in-memory limiter)', () => {
  it('allows the configured number of requests per principal, then answers 429 with Retry-After', async () => {
    const guard = new RateLimitGuard(createRateLimiter({ points: 3, durationSeconds: 10 }), settings);
    for (let i = 0; i < 3; i += 1) {
      const { context, headers } = call('ada');
      expect(await guard.canActivate(context)).toBe(true);
      expect(headers).toMatchObject({ 'ratelimit-limit': '3', 'ratelimit-remaining': String(2 - i) });
    }
    const over = call('ada');
    const error = await rejectionOf(guard.canActivate(over.context));
    expect(error.code).toBe(ErrorCode.RATE_LIMITED);
    expect(over.headers).toMatchObject({ 'ratelimit-limit': '3', 'ratelimit-remaining': '0' });
    expect(Number(over.headers['ratelimit-reset'])).toBeGreaterThanOrEqual(9);

    const problem = toProblem(error, over.request);
    expect(problem.status).toBe(429);
    expect(Number(problem.headers['retry-after'])).toBeGreaterThanOrEqual(9);
    expect(Number(problem.headers['retry-after'])).toBeLessThanOrEqual(10);
  });

  it('counts each principal separately, and all the keys of one principal together', async () => {
    const guard = new RateLimitGuard(createRateLimiter({ points: 2, durationSeconds: 10 }), settings);
    expect(await guard.canActivate(call('ada', 'key-a').context)).toBe(true);
    // A second key of the same principal (a member may mint one) draws on the same budget.
    expect(await guard.canActivate(call('ada', 'key-b').context)).toBe(true);
    await expect(guard.canActivate(call('ada', 'key-c').context)).rejects.toMatchObject({ code: ErrorCode.RATE_LIMITED });
    expect(await guard.canActivate(call('bob', 'key-d').context)).toBe(true);
  });

  it('does not limit public routes (no caller)', async () => {
    const guard = new RateLimitGuard(createRateLimiter({ points: 1, durationSeconds: 10 }), settings);
    for (let i = 0; i < 5; i += 1) expect(await guard.canActivate(call(undefined).context)).toBe(true);
  });

  it('fails open, with a warning, when Redis is not reachable', async () => {
    // Never connected: the limiter rejects at once (not ready) without touching the network.
    const redis = new Redis({ lazyConnect: true, enableOfflineQueue: false });
    try {
      const guard = new RateLimitGuard(createRateLimiter({ points: 1, durationSeconds: 10, redis }), settings);
      const first = call('ada');
      expect(await guard.canActivate(first.context)).toBe(true);
      expect(await guard.canActivate(call('ada').context)).toBe(true);
      expect(first.warn).toHaveBeenCalledWith(expect.anything(), 'rate limiter unavailable; failing open');
    } finally {
      redis.disconnect();
    }
  });
});
