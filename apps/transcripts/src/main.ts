// Decorator metadata must exist before any decorated class (contracts, entities) is evaluated.
import 'reflect-metadata';
import { hostname } from 'node:os';
import { NatsBus } from '@runyard/messaging';
import { assertMigrated } from '@runyard/persistence';
import { connectRedis, createLogger } from '@runyard/runtime';
import { loadConfigOrExit, natsServers } from '@runyard/config';
import { TranscriptsEnv } from './config.js';
import { createTranscriptsApp, createTranscriptsDataSource, transcriptsReadinessChecks } from './transcripts.app.js';

// Distributed mode: one transcripts replica on NATS, PostgreSQL and Redis (the tenant log budget),
// health on PORT. Migrations run beforehand (migrate.ts); a replica refuses to start on a schema
// that is behind.
const config = loadConfigOrExit(TranscriptsEnv);
const logger = createLogger('transcripts', config.LOG_LEVEL);

async function main(): Promise<void> {
  const bus = await NatsBus.connect({ servers: natsServers(config.NATS_URL), name: `transcripts-${hostname()}-${process.pid}`, namespace: config.NATS_NAMESPACE });
  const dataSource = createTranscriptsDataSource({ kind: 'postgres', url: config.DATABASE_URL });
  await dataSource.initialize();
  await assertMigrated(dataSource);
  // A command on a connection that stopped answering gives up after a second: the log budget then fails open.
  const redis = await connectRedis(config.REDIS_URL, { service: 'transcripts', commandTimeoutMs: 1000 }, logger);
  const app = await createTranscriptsApp(
    { bus, dataSource, logger, redis },
    {
      httpPort: config.PORT,
      readinessChecks: transcriptsReadinessChecks({ bus, dataSource, redis }),
      logs: {
        closeGraceMs: config.LOG_CLOSE_GRACE_MS,
        maxLinesPerRun: config.LOG_MAX_LINES_PER_RUN,
        maxBytesPerRun: config.LOG_MAX_BYTES_PER_RUN,
        tenantBytesPerMinute: config.LOG_TENANT_BYTES_PER_MINUTE,
      },
      segments: { retentionDays: { transcripts: config.TRANSCRIPT_RETENTION_DAYS === 0 ? null : config.TRANSCRIPT_RETENTION_DAYS } },
    },
  );
  logger.info({ port: config.PORT }, 'transcripts service started');

  let stopping = false;
  const shutdown = async (signal: NodeJS.Signals): Promise<void> => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'transcripts service stopping');
    try {
      // In-flight handlers finish and the relay stops before the bus, Redis and the database go away.
      await app.close();
      await bus.close();
      await redis.quit();
      await dataSource.destroy();
      logger.info('transcripts service stopped');
      process.exit(0);
    } catch (error) {
      logger.error({ err: error }, 'transcripts service did not stop cleanly');
      process.exit(1);
    }
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, (received) => void shutdown(received));
}

main().catch((error: unknown) => {
  logger.fatal({ err: error }, 'transcripts service failed to start');
  process.exit(1);
});
