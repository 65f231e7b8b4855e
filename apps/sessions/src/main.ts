// Decorator metadata must exist before any decorated class (contracts, entities) is evaluated.
import 'reflect-metadata';
import { hostname } from 'node:os';
import { NatsBus } from '@runyard/messaging';
import { assertMigrated } from '@runyard/persistence';
import { createLogger } from '@runyard/runtime';
import { loadConfigOrExit, natsServers } from '@runyard/config';
import { SessionsEnv } from './config.js';
import { createSessionsApp, createSessionsDataSource, sessionsReadinessChecks } from './sessions.app.js';

// Distributed mode: one sessions replica on NATS and PostgreSQL, health on PORT. Migrations run
// beforehand (migrate.ts); a replica refuses to start on a schema that is behind.
const config = loadConfigOrExit(SessionsEnv);
const logger = createLogger('sessions', config.LOG_LEVEL);

async function main(): Promise<void> {
  const bus = await NatsBus.connect({ servers: natsServers(config.NATS_URL), name: `sessions-${hostname()}-${process.pid}`, namespace: config.NATS_NAMESPACE });
  const dataSource = createSessionsDataSource({ kind: 'postgres', url: config.DATABASE_URL });
  await dataSource.initialize();
  await assertMigrated(dataSource);
  const app = await createSessionsApp(
    { bus, dataSource, logger },
    {
      httpPort: config.PORT,
      readinessChecks: sessionsReadinessChecks({ bus, dataSource }),
    },
  );
  logger.info({ port: config.PORT }, 'sessions service started');

  let stopping = false;
  const shutdown = async (signal: NodeJS.Signals): Promise<void> => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'sessions service stopping');
    try {
      // In-flight handlers finish and the relay stops before the bus and the database go away.
      await app.close();
      await bus.close();
      await dataSource.destroy();
      logger.info('sessions service stopped');
      process.exit(0);
    } catch (error) {
      logger.error({ err: error }, 'sessions service did not stop cleanly');
      process.exit(1);
    }
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, (received) => void shutdown(received));
}

main().catch((error: unknown) => {
  logger.fatal({ err: error }, 'sessions service failed to start');
  process.exit(1);
});
