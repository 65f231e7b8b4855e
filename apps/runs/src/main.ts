// Decorator metadata must exist before any decorated class (contracts, entities) is evaluated.
import 'reflect-metadata';
import { hostname } from 'node:os';
import { NatsBus } from '@runyard/messaging';
import { assertMigrated } from '@runyard/persistence';
import { createLogger } from '@runyard/runtime';
import { loadConfigOrExit, natsServers } from '@runyard/config';
import { RunsEnv } from './config.js';
import { createRunsApp, createRunsDataSource, runsReadinessChecks } from './runs.app.js';

// Distributed mode: one runs replica on NATS and PostgreSQL, health on PORT. Migrations run
// beforehand (migrate.ts); a replica refuses to start on a schema that is behind.
const config = loadConfigOrExit(RunsEnv);
const logger = createLogger('runs', config.LOG_LEVEL);

async function main(): Promise<void> {
  const bus = await NatsBus.connect({ servers: natsServers(config.NATS_URL), name: `runs-${hostname()}-${process.pid}`, namespace: config.NATS_NAMESPACE });
  const dataSource = createRunsDataSource({ kind: 'postgres', url: config.DATABASE_URL });
  await dataSource.initialize();
  await assertMigrated(dataSource);
  const app = await createRunsApp(
    { bus, dataSource, logger },
    {
      httpPort: config.PORT,
      readinessChecks: runsReadinessChecks({ bus, dataSource }),
      settings: {
        defaultExecutor: config.DEFAULT_EXECUTOR,
        leaseSweepIntervalMs: config.LEASE_SWEEP_INTERVAL_MS,
        cancelGraceMs: config.CANCEL_GRACE_MS,
        eventHistoryRetentionMs: config.EVENT_HISTORY_RETENTION_HOURS * 3_600_000,
      },
    },
  );
  logger.info({ port: config.PORT }, 'runs service started');

  let stopping = false;
  const shutdown = async (signal: NodeJS.Signals): Promise<void> => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'runs service stopping');
    try {
      // In-flight handlers finish and the relay stops before the bus and the database go away.
      await app.close();
      await bus.close();
      await dataSource.destroy();
      logger.info('runs service stopped');
      process.exit(0);
    } catch (error) {
      logger.error({ err: error }, 'runs service did not stop cleanly');
      process.exit(1);
    }
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, (received) => void shutdown(received));
}

main().catch((error: unknown) => {
  logger.fatal({ err: error }, 'runs service failed to start');
  process.exit(1);
});
