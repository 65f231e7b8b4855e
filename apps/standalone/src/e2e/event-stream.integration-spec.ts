import { afterAll } from '@jest/globals';
import { createTestDatabase, testInfra, uniqueName } from '@runyard/testing';
import { bootDistributed } from './boot-distributed.js';
import { describeEventStreams, STREAM_SUITE_SETTINGS } from './event-stream.contract.js';

// The same stream suite on PostgreSQL, NATS JetStream (the event log) and Redis, two replicas each of sessions and runs.
let dropDatabase: (() => Promise<void>) | undefined;
afterAll(async () => {
  await dropDatabase?.();
});

describeEventStreams('distributed', async () => {
  const database = await createTestDatabase();
  dropDatabase = database.drop;
  return bootDistributed({
    databaseUrl: database.url,
    natsUrl: testInfra.natsUrl,
    redisUrl: testInfra.redisUrl,
    namespace: uniqueName('streams'),
    gateway: STREAM_SUITE_SETTINGS,
  });
});
