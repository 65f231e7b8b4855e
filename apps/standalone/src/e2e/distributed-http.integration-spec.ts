import { afterAll } from '@jest/globals';
import { createTestDatabase, testInfra, uniqueName } from '@runyard/testing';
import { bootDistributed } from './boot-distributed.js';
import { describeHttpApi, SUITE_BODY_LIMIT_BYTES, SUITE_RATE_LIMIT } from './http-api.contract.js';

// The same HTTP suite as standalone mode, on real PostgreSQL, NATS and Redis with two replicas each of sessions and runs.
let dropDatabase: (() => Promise<void>) | undefined;
afterAll(async () => {
  await dropDatabase?.();
});

describeHttpApi('distributed', async () => {
  const database = await createTestDatabase();
  dropDatabase = database.drop;
  return bootDistributed({
    databaseUrl: database.url,
    natsUrl: testInfra.natsUrl,
    redisUrl: testInfra.redisUrl,
    namespace: uniqueName('http'),
    sessionsReplicas: 2,
    gateway: { ...SUITE_RATE_LIMIT, bodyLimitBytes: SUITE_BODY_LIMIT_BYTES },
  });
});
