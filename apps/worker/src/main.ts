// Decorator metadata must exist before any decorated class (contracts) is evaluated.
import 'reflect-metadata';
import { NatsBus } from '@runyard/messaging';
import { createLogger } from '@runyard/runtime';
import { loadConfigOrExit, natsServers } from '@runyard/config';
import { selectedExecutors, WorkerEnv } from './config.js';
import { startWorkerApp } from './worker.app.js';

// One worker replica on NATS: claims runs routed to its executors, health on PORT. No database:
// everything goes through the runs service. SIGTERM drains (WORKER_DRAIN_MS), then exits 0.
const config = loadConfigOrExit(WorkerEnv);
const logger = createLogger('worker', config.LOG_LEVEL);

async function main(): Promise<void> {
  const bus = await NatsBus.connect({ servers: natsServers(config.NATS_URL), name: `worker-${config.WORKER_ID}`, namespace: config.NATS_NAMESPACE });
  const app = await startWorkerApp({
    bus,
    logger,
    workerId: config.WORKER_ID,
    executors: selectedExecutors(config),
    concurrency: config.WORKER_CONCURRENCY,
    leaseTtlMs: config.WORKER_LEASE_TTL_MS,
    claimPollMs: config.WORKER_CLAIM_POLL_MS,
    httpPort: config.PORT,
  });
  logger.info({ port: app.port, worker_id: config.WORKER_ID }, 'worker service started');

  let stopping = false;
  const shutdown = async (signal: NodeJS.Signals): Promise<void> => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, drain_ms: config.WORKER_DRAIN_MS }, 'worker service stopping');
    try {
      // Runs in hand finish or are given back while the bus is still up.
      await app.close(config.WORKER_DRAIN_MS);
      await bus.close();
      logger.info('worker service stopped');
      process.exit(0);
    } catch (error) {
      logger.error({ err: error }, 'worker service did not stop cleanly');
      process.exit(1);
    }
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, (received) => void shutdown(received));
}

main().catch((error: unknown) => {
  logger.fatal({ err: error }, 'worker service failed to start');
  process.exit(1);
});
