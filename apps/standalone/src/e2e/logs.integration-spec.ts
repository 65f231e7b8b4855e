import { afterAll } from '@jest/globals';
import { createTestDatabase, testInfra, uniqueName } from '@runyard/testing';
import { bootDistributed } from './boot-distributed.js';
import { describeLogsApi, LOG_SUITE_GATEWAY, LOG_SUITE_SETTINGS } from './logs.contract.js';

// The same logs suite on PostgreSQL, NATS JetStream and Redis, with two transcripts replicas.
let dropDatabase: (() => Promise<void>) | undefined;
afterAll(async () => {
  await dropDatabase?.();
});

describeLogsApi('distributed', async () => {
  const database = await createTestDatabase();
  dropDatabase = database.drop;
  return bootDistributed({
    databaseUrl: database.url,
    natsUrl: testInfra.natsUrl,
    redisUrl: testInfra.redisUrl,
    namespace: uniqueName('logs'),
    transcriptsReplicas: 2,
    logs: LOG_SUITE_SETTINGS,
    gateway: LOG_SUITE_GATEWAY,
  });
});
