import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { INestApplicationContext } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createGatewayApp, gatewayEntities, gatewayReadinessChecks, gatewayMigrations, GATEWAY_SCHEMA, type GatewaySettings } from '@runyard/gateway';
import { InProcessBus } from '@runyard/messaging';
import { createServiceDataSource, openEmbeddedPostgres, runMigrations } from '@runyard/persistence';
import { createLogger } from '@runyard/runtime';
import { createRunsApp, runsEntities, runsMigrations, RUNS_SCHEMA } from '@runyard/runs';
import { createSessionsApp, sessionsEntities, sessionsMigrations, SESSIONS_SCHEMA } from '@runyard/sessions';
import type { DataSource } from 'typeorm';

export interface StandaloneOptions {
  port: number;
  host: string;
  /** Embedded Postgres directory; undefined keeps everything in memory (tests). */
  dataDir?: string;
  bootstrapApiKey?: string;
  /** Default `info`; each service logs with its own `service` field, as in distributed mode. */
  logLevel?: string;
  gateway?: Partial<Omit<GatewaySettings, 'bootstrapApiKey'>>;
}

export interface RunningStandalone {
  url: string;
  /** Set only on the first start without RUNYARD_BOOTSTRAP_API_KEY: shown once, never stored in clear. */
  generatedSystemKey?: string;
  close(): Promise<void>;
}

const DEFAULT_GATEWAY_SETTINGS: Omit<GatewaySettings, 'bootstrapApiKey'> = {
  bodyLimitBytes: 1024 * 1024,
  rateLimitPoints: 600,
  rateLimitDurationSeconds: 10,
  requestTimeoutMs: 5000,
};

/**
 * Every service in one process: one embedded PGlite with one schema per service (exactly as in
 * production), the in-process bus with the same subjects and semantics as NATS, in-memory rate
 * limiting and idempotency. The services are the same modules the distributed apps run.
 */
export async function startStandalone(options: StandaloneOptions): Promise<RunningStandalone> {
  const logLevel = options.logLevel ?? 'info';
  let pgDir: string | undefined;
  if (options.dataDir !== undefined) {
    pgDir = join(resolve(options.dataDir), 'pg');
    mkdirSync(pgDir, { recursive: true });
  }
  const pglite = await openEmbeddedPostgres(pgDir);
  const bus = new InProcessBus();
  const dataSources: DataSource[] = [];
  const apps: (INestApplicationContext | NestFastifyApplication)[] = [];

  const close = async (): Promise<void> => {
    // Gateway first (stop taking requests), then services, then the shared infrastructure.
    for (const app of apps.reverse()) await app.close();
    await bus.close();
    for (const dataSource of dataSources) if (dataSource.isInitialized) await dataSource.destroy();
    await pglite.close();
  };

  try {
    const sessionsDb = createServiceDataSource({
      schema: SESSIONS_SCHEMA,
      target: { kind: 'embedded', pglite },
      entities: sessionsEntities,
      migrations: sessionsMigrations,
    });
    const runsDb = createServiceDataSource({
      schema: RUNS_SCHEMA,
      target: { kind: 'embedded', pglite },
      entities: runsEntities,
      migrations: runsMigrations,
    });
    const gatewayDb = createServiceDataSource({
      schema: GATEWAY_SCHEMA,
      target: { kind: 'embedded', pglite },
      entities: gatewayEntities,
      migrations: gatewayMigrations,
    });
    dataSources.push(sessionsDb, runsDb, gatewayDb);
    for (const dataSource of dataSources) await runMigrations(dataSource);

    apps.push(await createSessionsApp({ bus, dataSource: sessionsDb, logger: createLogger('sessions', logLevel) }));
    apps.push(await createRunsApp({ bus, dataSource: runsDb, logger: createLogger('runs', logLevel) }));

    const readinessChecks = gatewayReadinessChecks({ dataSource: gatewayDb, bus });
    const { app, generatedSystemKey } = await createGatewayApp({
      bus,
      dataSource: gatewayDb,
      logger: createLogger('gateway', logLevel),
      settings: { ...DEFAULT_GATEWAY_SETTINGS, ...options.gateway, bootstrapApiKey: options.bootstrapApiKey },
      readinessChecks,
    });
    apps.push(app);
    await app.listen(options.port, options.host);
    const address = app.getHttpServer().address();
    const port = typeof address === 'object' && address ? address.port : options.port;
    const host = options.host === '0.0.0.0' ? '127.0.0.1' : options.host;
    return { url: `http://${host}:${port}`, generatedSystemKey, close };
  } catch (error) {
    await close().catch(() => undefined);
    throw error;
  }
}
