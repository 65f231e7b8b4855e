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
import { createTranscriptsApp, transcriptsEntities, transcriptsMigrations, TRANSCRIPTS_SCHEMA, type LogsSettings, type SegmentsSettings } from '@runyard/transcripts';
import { builtInExecutors, Worker } from '@runyard/worker';
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
  /** Run log settings of the transcripts service (limits, closing grace); defaults otherwise. */
  logs?: Partial<LogsSettings>;
  /** Transcript segment settings (retention per class); defaults otherwise. */
  segments?: Partial<SegmentsSettings>;
  /**
   * An embedded worker with the built-in executors (echo, script), started after the services, so
   * runs get executed with nothing else running. Absent: no worker — runs stay pending until an
   * outside worker claims them (the HTTP suites rely on that).
   */
  worker?: StandaloneWorkerOptions;
}

export interface StandaloneWorkerOptions {
  /** Runs executed at once; default 4. */
  concurrency?: number;
  /** Default 30 s. */
  leaseTtlMs?: number;
  /** On close, how long runs in hand may finish before they are given back; default 5 s. */
  drainMs?: number;
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
  let worker: Worker | undefined;

  const close = async (): Promise<void> => {
    // The worker first (its runs finish or are given back while the services still answer), then
    // the gateway (stop taking requests), then services, then the shared infrastructure.
    await worker?.stop({ drainMs: options.worker?.drainMs ?? 5000 });
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
    const transcriptsDb = createServiceDataSource({
      schema: TRANSCRIPTS_SCHEMA,
      target: { kind: 'embedded', pglite },
      entities: transcriptsEntities,
      migrations: transcriptsMigrations,
    });
    const gatewayDb = createServiceDataSource({
      schema: GATEWAY_SCHEMA,
      target: { kind: 'embedded', pglite },
      entities: gatewayEntities,
      migrations: gatewayMigrations,
    });
    dataSources.push(sessionsDb, runsDb, transcriptsDb, gatewayDb);
    for (const dataSource of dataSources) await runMigrations(dataSource);

    apps.push(await createSessionsApp({ bus, dataSource: sessionsDb, logger: createLogger('sessions', logLevel) }));
    apps.push(await createRunsApp({ bus, dataSource: runsDb, logger: createLogger('runs', logLevel) }));
    apps.push(await createTranscriptsApp({ bus, dataSource: transcriptsDb, logger: createLogger('transcripts', logLevel) }, { logs: options.logs, segments: options.segments }));

    const readinessChecks = gatewayReadinessChecks({ dataSource: gatewayDb, bus });
    const { app, generatedSystemKey } = await createGatewayApp({
      bus,
      dataSource: gatewayDb,
      logger: createLogger('gateway', logLevel),
      settings: { ...DEFAULT_GATEWAY_SETTINGS, ...options.gateway, bootstrapApiKey: options.bootstrapApiKey },
      readinessChecks,
    });
    apps.push(app);
    if (options.worker !== undefined) {
      worker = new Worker({
        bus,
        workerId: `standalone-${process.pid}`,
        executors: { ...builtInExecutors },
        concurrency: options.worker.concurrency,
        leaseTtlMs: options.worker.leaseTtlMs,
        logger: createLogger('worker', logLevel),
      });
      await worker.start();
    }
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
