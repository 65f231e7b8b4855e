import { afterAll, describe, expect, it } from '@jest/globals';
import { testInfra, uniqueName } from '@runyard/testing';
import { Redis } from 'ioredis';
import { describeIdempotencyStoreContract } from './idempotency-store.contract.js';
import { RedisIdempotencyStore } from './redis-idempotency.store.js';

const redis = new Redis(testInfra.redisUrl);
const prefix = `${uniqueName('idem')}:`;

afterAll(async () => {
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
});

describeIdempotencyStoreContract('RedisIdempotencyStore', () => new RedisIdempotencyStore(redis, prefix));

describe('RedisIdempotencyStore', () => {
  it('shares keys between gateway replicas (separate clients) and stores answers with a 24 h TTL', async () => {
    const other = new Redis(testInfra.redisUrl);
    try {
      const replicaA = new RedisIdempotencyStore(redis, prefix);
      const replicaB = new RedisIdempotencyStore(other, prefix);
      const begun = await replicaA.begin('shared', 'fp', 60_000);
      if (begun.outcome !== 'acquired') throw new Error('expected to acquire');
      expect(await replicaB.begin('shared', 'fp', 60_000)).toEqual({ outcome: 'in_flight', fingerprint: 'fp' });

      await replicaA.complete('shared', begun.token, 'sealed-answer', 24 * 3600 * 1000);
      expect(await replicaB.begin('shared', 'fp', 60_000)).toEqual({ outcome: 'completed', fingerprint: 'fp', sealed: 'sealed-answer' });
      const ttl = await redis.pttl(`${prefix}shared`);
      expect(ttl).toBeGreaterThan(23 * 3600 * 1000);
    } finally {
      await other.quit();
    }
  });
});
