import { Module, type DynamicModule, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { type Bus, checkBusConnected, OutboxEventEntity } from '@runyard/messaging';
import { createServiceDataSource, pingDatabase, type DatabaseTarget } from '@runyard/persistence';
import { HealthModule, NestPinoLogger, type Logger, type ReadinessCheck } from '@runyard/runtime';
import type { DataSource } from 'typeorm';
import { ChatMessageEntity } from './messages/chat-message.entity.js';
import { sessionsMigrations } from './migrations/index.js';
import { SessionEntity } from './sessions/session.entity.js';
import { SessionsModule } from './sessions.module.js';

/** The Postgres schema the sessions service owns (tables, outbox, migrations table). */
export const SESSIONS_SCHEMA = 'sessions';

export const sessionsEntities = [SessionEntity, ChatMessageEntity, OutboxEventEntity];

/** This service's data source (not yet initialised) over a server or an embedded database. */
export function createSessionsDataSource(target: DatabaseTarget): DataSource {
  return createServiceDataSource({ schema: SESSIONS_SCHEMA, target, entities: sessionsEntities, migrations: sessionsMigrations });
}

export interface SessionsAppDeps {
  bus: Bus;
  /** Initialised and migrated. */
  dataSource: DataSource;
  logger: Logger;
}

export interface SessionsAppOptions {
  /** Distributed mode: serve /healthz and /readyz on this port. Without it, no HTTP at all (standalone mode). */
  httpPort?: number;
  readinessChecks?: ReadinessCheck[];
}

/** Ready when the database answers and the bus is connected. */
export function sessionsReadinessChecks(deps: Pick<SessionsAppDeps, 'bus' | 'dataSource'>): ReadinessCheck[] {
  return [
    { name: 'database', check: () => pingDatabase(deps.dataSource) },
    { name: 'bus', check: () => checkBusConnected(deps.bus) },
  ];
}

@Module({})
class SessionsAppModule {}

/**
 * Starts the sessions service on the given bus and data source, with its handlers registered when
 * this resolves. It does not own them: the caller closes the app first, then the bus and the data
 * source, and decides about shutdown hooks.
 */
export async function createSessionsApp(deps: SessionsAppDeps, options: SessionsAppOptions = {}): Promise<INestApplicationContext> {
  const logger = new NestPinoLogger(deps.logger);
  const imports = [SessionsModule.register({ bus: deps.bus, dataSource: deps.dataSource })];
  if (options.httpPort === undefined) {
    const app = await NestFactory.createApplicationContext({ module: SessionsAppModule, imports } satisfies DynamicModule, { logger });
    await app.init();
    return app;
  }
  const root: DynamicModule = { module: SessionsAppModule, imports: [...imports, HealthModule.forRoot(options.readinessChecks ?? [])] };
  const app = await NestFactory.create<NestFastifyApplication>(root, new FastifyAdapter(), { logger });
  await app.listen(options.httpPort, '0.0.0.0');
  return app;
}
