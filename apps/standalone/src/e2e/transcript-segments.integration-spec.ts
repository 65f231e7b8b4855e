import { afterAll } from '@jest/globals';
import { NatsBus } from '@runyard/messaging';
import { createTestDatabase, testInfra, uniqueName } from '@runyard/testing';
import { builtInExecutors, silentLogger, Worker } from '@runyard/worker';
import { bootDistributed } from './boot-distributed.js';
import { describeTranscriptSegmentsApi } from './transcript-segments.contract.js';

// The same transcript segments suite on PostgreSQL, NATS JetStream and Redis, with two transcripts
// replicas and a worker on a connection of its own (its summary crosses NATS twice: the lease check
// to the runs service, the write to the transcripts service).
let dropDatabase: (() => Promise<void>) | undefined;
afterAll(async () => {
  await dropDatabase?.();
});

describeTranscriptSegmentsApi('distributed', async () => {
  const database = await createTestDatabase('segments');
  dropDatabase = database.drop;
  const namespace = uniqueName('segments');
  const booted = await bootDistributed({ databaseUrl: database.url, natsUrl: testInfra.natsUrl, redisUrl: testInfra.redisUrl, namespace, transcriptsReplicas: 2 });
  let workerBus: NatsBus | undefined;
  let worker: Worker | undefined;
  try {
    workerBus = await NatsBus.connect({ servers: testInfra.natsUrl, name: `${namespace}-worker`, namespace });
    worker = new Worker({ bus: workerBus, workerId: `${namespace}-worker`, executors: { ...builtInExecutors }, concurrency: 1, logger: silentLogger });
    await worker.start();
  } catch (error) {
    await workerBus?.close();
    await booted.close();
    throw error;
  }
  const started = { worker, workerBus };
  return {
    url: booted.url,
    systemKey: booted.systemKey,
    close: async () => {
      await started.worker.stop({ drainMs: 2000 });
      await started.workerBus.close();
      await booted.close();
    },
  };
});
