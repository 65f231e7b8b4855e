// Decorator metadata must exist before any decorated class (contracts, entities) is evaluated.
import 'reflect-metadata';
import { hostname } from 'node:os';
import { NatsBus } from '@runyard/messaging';
import { assertMigrated } from '@runyard/persistence';
import { createLogger, type Logger } from '@runyard/runtime';
import { Redis } from 'ioredis';
import { loadConfigOrExit, natsServers } from '@runyard/config';
import { TranscriptsEnv } from './config.js';
import { createTranscriptsApp, createTranscriptsDataSource, transcriptsReadinessChecks } from './transcripts.app.js';

// Distributed mode: one transcripts replica on NATS, PostgreSQL and Redis (the tenant log budget),
// health on PORT. Migrations run beforehand (migrate.ts); a replica refuses to start on a schema
// that is behind.
const config = loadConfigOrExit(TranscriptsEnv);
const logger = createLogger('transcripts', config.LOG_LEVEL);

/**
 * Like the gateway's client: commands fail at once while Redis is unreachable (no offline queue), so
 * the log budget fails open instead of holding appends; a command on a connection that stopped
 * answering gives up after a second. Boot waits for the first connection, like it does for NATS.
 */
async function connectRedis(url: string, log: Logger): Promise<Redis> {
  const redis = new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 1000, connectionName: `transcripts-${hostname()}` });
  let lastError = '';
  redis.on('error', (error: Error) => {
    // ioredis reports every failed reconnect; one line per distinct error is enough.
    if (error.message === lastError) return;
    lastError = error.message;
    log.warn({ err: { message: error.message } }, 'redis connection error');
  });
  redis.on('ready', () => {
    if (lastError !== '') log.info('redis connection restored');
    lastError = '';
  });
  if (redis.status !== 'ready') await new Promise<void>((resolve) => redis.once('ready', () => resolve()));
  return redis;
}

async function main(): Promise<void> {
  const bus = await NatsBus.connect({ servers: natsServers(config.NATS_URL), name: `transcripts-${hostname()}-${process.pid}`, namespace: config.NATS_NAMESPACE });
  const dataSource = createTranscriptsDataSource({ kind: 'postgres', url: config.DATABASE_URL });
  await dataSource.initialize();
  await assertMigrated(dataSource);
  const redis = await connectRedis(config.REDIS_URL, logger);
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
