import { describe, expect, it, jest } from '@jest/globals';
import { Redis } from 'ioredis';
import { RedisTenantLogBudget } from './redis-tenant-log-budget.js';

describe('RedisTenantLogBudget without Redis', () => {
  it('fails open: lets batches through and charges nothing, with one warning per interval', async () => {
    // Closed before it ever connected: every command rejects at once, without touching the network.
    const redis = new Redis({ lazyConnect: true, enableOfflineQueue: false });
    redis.disconnect();
    const warn = jest.fn();
    const budget = new RedisTenantLogBudget({ redis, bytesPerMinute: 1, logger: { warn } });
    await budget.check('tenant-a');
    await budget.charge('tenant-a', 1000);
    await budget.check('tenant-a');
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('failing open'));
  });
});
