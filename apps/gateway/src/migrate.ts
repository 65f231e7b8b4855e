import 'reflect-metadata';
import { runMigrations } from '@runyard/persistence';
import { createLogger } from '@runyard/runtime';
import { loadConfigOrExit } from '@runyard/config';
import { GatewayDatabaseEnv } from './config.js';
import { createGatewayDataSource } from './gateway-data-source.js';

// Applies the gateway schema's pending migrations to DATABASE_URL and exits: run it before rolling
// out replicas (e.g. as a Kubernetes Job). Exit code 0 when the schema is up to date.
const env = loadConfigOrExit(GatewayDatabaseEnv);
const logger = createLogger('gateway-migrate', env.LOG_LEVEL);

async function migrate(): Promise<void> {
  const dataSource = createGatewayDataSource({ kind: 'postgres', url: env.DATABASE_URL });
  await dataSource.initialize();
  try {
    const applied = await runMigrations(dataSource);
    logger.info({ applied }, 'gateway migrations applied');
  } finally {
    await dataSource.destroy();
  }
}

migrate().then(
  () => process.exit(0),
  (error: unknown) => {
    logger.fatal({ err: error }, 'gateway migrations failed');
    process.exit(1);
  },
);
