import { afterAll, afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { ErrorCode } from '@runyard/contracts';
import { testInfra, uniqueName } from '@runyard/testing';
import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { RedisTenantLogBudget } from './redis-tenant-log-budget.js';
import { BUDGET_T0, describeTenantLogBudgetContract, testClock } from './tenant-log-budget.contract.js';
import { LOG_BUDGET_WINDOW_MS } from './tenant-log-budget.js';

// Two clients: two transcripts replicas on one Redis.
const clients = [new Redis(testInfra.redisUrl), new Redis(testInfra.redisUrl)];
let prefix: string;

beforeEach(() => {
  prefix = uniqueName('logbudget');
});

afterEach(async () => {
  const keys = await clients[0].keys(`${prefix}:*`);
  if (keys.length > 0) await clients[0].del(...keys);
});

afterAll(async () => {
  await Promise.all(clients.map((client) => client.quit()));
});

describeTenantLogBudgetContract('RedisTenantLogBudget', (options) => new RedisTenantLogBudget({ ...options, redis: clients[0], keyPrefix: prefix }));

describe('RedisTenantLogBudget', () => {
  it('shares one budget per tenant between replicas, also under concurrent charges', async () => {
    const clock = testClock();
    const [a, b] = clients.map((redis) => new RedisTenantLogBudget({ redis, keyPrefix: prefix, bytesPerMinute: 1000, clock: clock.read }));
    const tenant = randomUUID();
    await a.charge(tenant, 600);
    await b.check(tenant);
    await b.charge(tenant, 399);
    await a.check(tenant);
    await a.charge(tenant, 1);
    await expect(a.check(tenant)).rejects.toMatchObject({ code: ErrorCode.RATE_LIMITED, details: { retryAfterSeconds: 60 } });
    await expect(b.check(tenant)).rejects.toMatchObject({ code: ErrorCode.RATE_LIMITED, details: { retryAfterSeconds: 60 } });

    // Next window: 20 batches of 50 bytes at once, half through each replica, add up exactly.
    clock.now = BUDGET_T0 + LOG_BUDGET_WINDOW_MS;
    await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).charge(tenant, 50)));
    await expect(b.check(tenant)).rejects.toMatchObject({ code: ErrorCode.RATE_LIMITED });
    expect(await clients[0].get(`${prefix}:logbudget:${tenant}:${BUDGET_T0 + LOG_BUDGET_WINDOW_MS}`)).toBe('1000');
  });

  it('keeps one counter per tenant and window under its prefix, expiring after the next window', async () => {
    const clock = testClock(BUDGET_T0 + 30_000);
    const budget = new RedisTenantLogBudget({ redis: clients[0], keyPrefix: prefix, bytesPerMinute: 1000, clock: clock.read });
    const tenant = randomUUID();
    await budget.charge(tenant, 123);
    clock.now = BUDGET_T0 + LOG_BUDGET_WINDOW_MS;
    await budget.charge(tenant, 7);

    expect((await clients[0].keys(`${prefix}:*`)).sort()).toEqual([`${prefix}:logbudget:${tenant}:${BUDGET_T0}`, `${prefix}:logbudget:${tenant}:${BUDGET_T0 + LOG_BUDGET_WINDOW_MS}`]);
    const key = `${prefix}:logbudget:${tenant}:${BUDGET_T0}`;
    expect(await clients[0].get(key)).toBe('123');
    const ttl = await clients[0].pttl(key);
    expect(ttl).toBeGreaterThan(LOG_BUDGET_WINDOW_MS);
    expect(ttl).toBeLessThanOrEqual(2 * LOG_BUDGET_WINDOW_MS);
  });
});
