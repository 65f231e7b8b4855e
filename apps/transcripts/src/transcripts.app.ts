import { Module, type DynamicModule, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { type Bus, checkBusConnected, OutboxEventEntity } from '@runyard/messaging';
import { createServiceDataSource, pingDatabase, type DatabaseTarget } from '@runyard/persistence';
import { HealthModule, NestPinoLogger, redisReadiness, type Logger, type ReadinessCheck } from '@runyard/runtime';
import type { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
import { DEFAULT_LOGS_SETTINGS, type LogsSettings } from './logs/logs-settings.js';
import { DEFAULT_SEGMENTS_SETTINGS, type SegmentsSettings } from './segments/segments-settings.js';
import { DEFAULT_TRACES_SETTINGS, type TracesSettings } from './traces/traces-settings.js';
import { transcriptsMigrations } from './migrations/index.js';
import { TranscriptsModule } from './transcripts.module.js';

/** The Postgres schema the transcripts service owns (tables, outbox, migrations table). */
export const TRANSCRIPTS_SCHEMA = 'transcripts';

/** Logs are raw SQL (batched inserts); TypeORM maps only the outbox. */
export const transcriptsEntities = [OutboxEventEntity];

/** This service's data source (not yet initialised) over a server or an embedded database. */
export function createTranscriptsDataSource(target: DatabaseTarget): DataSource {
  return createServiceDataSource({ schema: TRANSCRIPTS_SCHEMA, target, entities: transcriptsEntities, migrations: transcriptsMigrations });
}

export interface TranscriptsAppDeps {
  bus: Bus;
  /** Initialised and migrated. */
  dataSource: DataSource;
  logger: Logger;
  /** ioredis client (distributed mode): the tenant log budget shared by every replica. Absent → in memory (standalone). */
  redis?: Redis;
}

export interface TranscriptsAppOptions {
  /** Distributed mode: serve /healthz and /readyz on this port. Without it, no HTTP at all (standalone mode). */
  httpPort?: number;
  readinessChecks?: ReadinessCheck[];
  /** Defaults: DEFAULT_LOGS_SETTINGS. */
  logs?: Partial<LogsSettings>;
  /** Defaults: DEFAULT_TRACES_SETTINGS. */
  traces?: Partial<TracesSettings>;
  /** Defaults: DEFAULT_SEGMENTS_SETTINGS (segments of class `transcripts` kept 90 days). */
  segments?: Partial<SegmentsSettings>;
}

/** Ready when the database answers, the bus is connected and (distributed mode) Redis answers. */
export function transcriptsReadinessChecks(deps: Pick<TranscriptsAppDeps, 'bus' | 'dataSource' | 'redis'>): ReadinessCheck[] {
  const checks: ReadinessCheck[] = [
    { name: 'database', check: () => pingDatabase(deps.dataSource) },
    { name: 'bus', check: () => checkBusConnected(deps.bus) },
  ];
  if (deps.redis) checks.push(redisReadiness(deps.redis));
  return checks;
}

@Module({})
class TranscriptsAppModule {}

/**
 * Starts the transcripts service on the given bus and data source (and Redis), with its handlers,
 * consumer and log closer running when this resolves. It does not own them: the caller closes the
 * app first, then the bus, Redis and the data source.
 */
export async function createTranscriptsApp(deps: TranscriptsAppDeps, options: TranscriptsAppOptions = {}): Promise<INestApplicationContext> {
  const logger = new NestPinoLogger(deps.logger);
  const settings = { logs: { ...DEFAULT_LOGS_SETTINGS, ...options.logs }, traces: { ...DEFAULT_TRACES_SETTINGS, ...options.traces }, segments: { ...DEFAULT_SEGMENTS_SETTINGS, ...options.segments } };
  const imports = [TranscriptsModule.register({ bus: deps.bus, dataSource: deps.dataSource, redis: deps.redis, settings })];
  if (options.httpPort === undefined) {
    const app = await NestFactory.createApplicationContext({ module: TranscriptsAppModule, imports } satisfies DynamicModule, { logger });
    await app.init();
    return app;
  }
  const root: DynamicModule = { module: TranscriptsAppModule, imports: [...imports, HealthModule.forRoot(options.readinessChecks ?? [])] };
  const app = await NestFactory.create<NestFastifyApplication>(root, new FastifyAdapter(), { logger });
  await app.listen(options.httpPort, '0.0.0.0');
  return app;
}
