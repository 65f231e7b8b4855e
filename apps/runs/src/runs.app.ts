import { Module, type DynamicModule, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { type Bus, checkBusConnected, OutboxEventEntity } from '@runyard/messaging';
import { createServiceDataSource, pingDatabase, type DatabaseTarget } from '@runyard/persistence';
import { HealthModule, NestPinoLogger, type Logger, type ReadinessCheck } from '@runyard/runtime';
import type { DataSource } from 'typeorm';
import { runsMigrations } from './migrations/index.js';
import { PlanStepEntity } from './plan-steps/plan-step.entity.js';
import { RunEntity } from './runs/run.entity.js';
import { DEFAULT_RUNS_SETTINGS, type RunsSettings } from './runs/runs-settings.js';
import { RunsModule } from './runs.module.js';
import { WaitEntity } from './waits/wait.entity.js';

/** The Postgres schema the runs service owns (tables, outbox, migrations table). */
export const RUNS_SCHEMA = 'runs';

export const runsEntities = [RunEntity, PlanStepEntity, WaitEntity, OutboxEventEntity];

/** This service's data source (not yet initialised) over a server or an embedded database. */
export function createRunsDataSource(target: DatabaseTarget): DataSource {
  return createServiceDataSource({ schema: RUNS_SCHEMA, target, entities: runsEntities, migrations: runsMigrations });
}

export interface RunsAppDeps {
  bus: Bus;
  /** Initialised and migrated. */
  dataSource: DataSource;
  logger: Logger;
}

export interface RunsAppOptions {
  /** Distributed mode: serve /healthz and /readyz on this port. Without it, no HTTP at all (standalone mode). */
  httpPort?: number;
  readinessChecks?: ReadinessCheck[];
  /** Defaults: executor `echo`, sweep every second. */
  settings?: Partial<RunsSettings>;
}

/** Ready when the database answers and the bus is connected. */
export function runsReadinessChecks(deps: Pick<RunsAppDeps, 'bus' | 'dataSource'>): ReadinessCheck[] {
  return [
    { name: 'database', check: () => pingDatabase(deps.dataSource) },
    { name: 'bus', check: () => checkBusConnected(deps.bus) },
  ];
}

@Module({})
class RunsAppModule {}

/**
 * Starts the runs service on the given bus and data source, with its handlers registered and its
 * run sweeper running when this resolves. It does not own them: the caller closes the app first,
 * then the bus and the data source, and decides about shutdown hooks.
 */
export async function createRunsApp(deps: RunsAppDeps, options: RunsAppOptions = {}): Promise<INestApplicationContext> {
  const logger = new NestPinoLogger(deps.logger);
  const settings: RunsSettings = { ...DEFAULT_RUNS_SETTINGS, ...options.settings };
  const imports = [RunsModule.register({ bus: deps.bus, dataSource: deps.dataSource, settings })];
  if (options.httpPort === undefined) {
    const app = await NestFactory.createApplicationContext({ module: RunsAppModule, imports } satisfies DynamicModule, { logger });
    await app.init();
    return app;
  }
  const root: DynamicModule = { module: RunsAppModule, imports: [...imports, HealthModule.forRoot(options.readinessChecks ?? [])] };
  const app = await NestFactory.create<NestFastifyApplication>(root, new FastifyAdapter(), { logger });
  await app.listen(options.httpPort, '0.0.0.0');
  return app;
}
