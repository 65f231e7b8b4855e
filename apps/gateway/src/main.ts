import 'reflect-metadata';
import { hostname } from 'node:os';
import { NatsBus } from '@runyard/messaging';
import { assertMigrated } from '@runyard/persistence';
import { connectRedis, createLogger } from '@runyard/runtime';
import { loadConfigOrExit, natsServers } from '@runyard/config';
import { GatewayEnv, toGatewaySettings } from './config.js';
import { createGatewayApp } from './gateway.app.js';
import { createGatewayDataSource } from './gateway-data-source.js';
import { gatewayReadinessChecks } from './readiness.js';

// Distributed mode: one gateway replica on PostgreSQL (schema `gateway`), NATS and Redis. Migrations
// run beforehand (migrate.ts); a replica refuses to start on a schema that is behind.
const env = loadConfigOrExit(GatewayEnv);
const logger = createLogger('gateway', env.LOG_LEVEL);

// A generated system key is shown once on stdout. Where stdout is not a terminal (a container, a
// service manager) it would be written to log storage instead, so there the key must be given.
if (!env.RUNYARD_BOOTSTRAP_API_KEY && !process.stdout.isTTY) {
  process.stderr.write(
    'Invalid configuration:\n  - RUNYARD_BOOTSTRAP_API_KEY is required when stdout is not a terminal (a generated key would end up in the logs); give it from a secret.\n',
  );
  process.exit(1);
}

async function main(): Promise<void> {
  const dataSource = createGatewayDataSource({ kind: 'postgres', url: env.DATABASE_URL });
  await dataSource.initialize();
  await assertMigrated(dataSource);
  const bus = await NatsBus.connect({ servers: natsServers(env.NATS_URL), name: `gateway-${hostname()}-${process.pid}`, namespace: env.NATS_NAMESPACE });
  const redis = await connectRedis(env.REDIS_URL, { service: 'gateway' }, logger);

  const { app, generatedSystemKey } = await createGatewayApp({
    bus,
    dataSource,
    logger,
    redis,
    settings: toGatewaySettings(env),
    readinessChecks: gatewayReadinessChecks({ dataSource, bus, redis }),
  });
  await app.listen(env.PORT, env.HOST);
  logger.info({ port: env.PORT, host: env.HOST }, 'gateway started');

  if (generatedSystemKey) {
    // Only reached on a terminal (see above), and straight to stdout, not through the structured
    // logger: the system key must never be stored anywhere in clear. Printed once, on the first
    // start; later starts find a system key and generate none.
    process.stdout.write(
      [
        '',
        '==================== RUNYARD SYSTEM API KEY (shown once) ====================',
        generatedSystemKey,
        'Store it in a secret manager now; it cannot be shown again. To rotate it, set',
        'RUNYARD_BOOTSTRAP_API_KEY and restart.',
        '=============================================================================',
        '',
      ].join('\n') + '\n',
    );
  }

  let stopping = false;
  const shutdown = async (signal: NodeJS.Signals): Promise<void> => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'gateway stopping');
    try {
      // Stop taking requests and let in-flight ones finish, then close what the app used.
      await app.close();
      await bus.close();
      await redis.quit();
      await dataSource.destroy();
      logger.info('gateway stopped');
      process.exit(0);
    } catch (error) {
      logger.error({ err: error }, 'gateway did not stop cleanly');
      process.exit(1);
    }
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, (received) => void shutdown(received));
}

main().catch((error: unknown) => {
  logger.fatal({ err: error }, 'gateway failed to start');
  process.exit(1);
});
