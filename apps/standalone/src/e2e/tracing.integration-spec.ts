import { afterAll } from '@jest/globals';
import { NatsBus } from '@runyard/messaging';
import { createTestDatabase, testInfra, uniqueName } from '@runyard/testing';
import { builtInExecutors, silentLogger, Worker } from '@runyard/worker';
import { bootDistributed } from './boot-distributed.js';
import { describeTracing } from './tracing.contract.js';

// Distributed: the trace crosses real NATS (request headers and JetStream message headers) between
// the gateway, two replicas each of sessions and runs, and a worker on a connection of its own.
let dropDatabase: (() => Promise<void>) | undefined;
afterAll(async () => {
  await dropDatabase?.();
});

describeTracing('distributed', async () => {
  const database = await createTestDatabase('tracing');
  dropDatabase = database.drop;
  const namespace = uniqueName('tracing');
  const booted = await bootDistributed({ databaseUrl: database.url, natsUrl: testInfra.natsUrl, redisUrl: testInfra.redisUrl, namespace });
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
