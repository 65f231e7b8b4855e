import { randomBytes } from 'node:crypto';
import type { INestApplicationContext } from '@nestjs/common';
import { createGatewayApp, gatewayEntities, gatewayReadinessChecks, gatewayMigrations, GATEWAY_SCHEMA, type GatewaySettings } from '@runyard/gateway';
import { NatsBus, type Bus } from '@runyard/messaging';
import { createServiceDataSource, runMigrations } from '@runyard/persistence';
import { createLogger } from '@runyard/runtime';
import { createRunsApp, runsEntities, runsMigrations, RUNS_SCHEMA } from '@runyard/runs';
import { createTestDatabase, deleteNatsNamespace, testInfra } from '@runyard/testing';
import { createSessionsApp, sessionsEntities, sessionsMigrations, SESSIONS_SCHEMA } from '@runyard/sessions';
import { createTranscriptsApp, transcriptsEntities, transcriptsMigrations, TRANSCRIPTS_SCHEMA, type LogsSettings } from '@runyard/transcripts';
import { builtInExecutors, silentLogger, Worker } from '@runyard/worker';
import { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';

export interface DistributedOptions {
  databaseUrl: string;
  natsUrl: string;
  redisUrl: string;
  /** NATS subject namespace isolating this deployment from others on the same server. */
  namespace: string;
  sessionsReplicas?: number;
  runsReplicas?: number;
  transcriptsReplicas?: number;
  /** Run log settings of every transcripts replica. */
  logs?: Partial<LogsSettings>;
  gateway?: Partial<GatewaySettings>;
  /** Also a worker with the built-in executors (echo, script) on a NATS connection of its own. */
  worker?: { concurrency?: number };
}

export interface BootedDistributed {
  url: string;
  systemKey: string;
  close(): Promise<void>;
}

/**
 * Distributed mode inside one test process: the gateway, N sessions and M runs replicas, each with its own
 * NATS connection and database pool, exactly as separate processes would have (the processes
 * themselves are exercised by the benchmark and docker-compose).
 */
export async function bootDistributed(options: DistributedOptions): Promise<BootedDistributed> {
  const logger = createLogger('runyard-test', process.env.TEST_LOG_LEVEL ?? 'silent');
  const closers: (() => Promise<unknown>)[] = [];
  const close = async (): Promise<void> => {
    for (const closer of closers.reverse()) await closer().catch(() => undefined);
  };
  const connect = async (name: string): Promise<Bus> => {
    const bus = await NatsBus.connect({ servers: options.natsUrl, name, namespace: options.namespace });
    closers.push(() => bus.close());
    return bus;
  };
  const dataSource = async (schema: string, entities: DataSource['options']['entities'], migrations: DataSource['options']['migrations']): Promise<DataSource> => {
    const ds = createServiceDataSource({
      schema,
      target: { kind: 'postgres', url: options.databaseUrl, poolMax: 5 },
      entities: entities as never,
      migrations: migrations as never,
    });
    await runMigrations(ds);
    closers.push(() => ds.destroy());
    return ds;
  };

  // Last to run: the namespace's event stream must not outlive the test on a shared server.
  closers.push(() => deleteNatsNamespace(options.natsUrl, options.namespace));
  try {
    for (let i = 0; i < (options.sessionsReplicas ?? 2); i++) {
      const bus = await connect(`sessions-${i}`);
      const db = await dataSource(SESSIONS_SCHEMA, sessionsEntities, sessionsMigrations);
      const app: INestApplicationContext = await createSessionsApp({ bus, dataSource: db, logger });
      closers.push(() => app.close());
    }
    for (let i = 0; i < (options.runsReplicas ?? 2); i++) {
      const bus = await connect(`runs-${i}`);
      const db = await dataSource(RUNS_SCHEMA, runsEntities, runsMigrations);
      const app: INestApplicationContext = await createRunsApp({ bus, dataSource: db, logger });
      closers.push(() => app.close());
    }
    // One client for the gateway and the transcripts replicas (their tenant log budget), closed after them.
    const redis = new Redis(options.redisUrl, { maxRetriesPerRequest: 1 });
    closers.push(async () => redis.quit());
    for (let i = 0; i < (options.transcriptsReplicas ?? 2); i++) {
      const bus = await connect(`transcripts-${i}`);
      const db = await dataSource(TRANSCRIPTS_SCHEMA, transcriptsEntities, transcriptsMigrations);
      const app: INestApplicationContext = await createTranscriptsApp({ bus, dataSource: db, logger, redis }, { logs: options.logs });
      closers.push(() => app.close());
    }
    const bus = await connect('gateway');
    const db = await dataSource(GATEWAY_SCHEMA, gatewayEntities, gatewayMigrations);
    const systemKey = `ryk_sys_${randomBytes(24).toString('base64url')}`;
    const { app } = await createGatewayApp({
      bus,
      dataSource: db,
      logger,
      redis,
      settings: {
        bodyLimitBytes: 1024 * 1024,
        rateLimitPoints: 600,
        rateLimitDurationSeconds: 10,
        requestTimeoutMs: 5000,
        ...options.gateway,
        bootstrapApiKey: systemKey,
      },
      readinessChecks: gatewayReadinessChecks({ dataSource: db, bus, redis }),
    });
    closers.push(() => app.close());
    if (options.worker) {
      const worker = new Worker({ bus: await connect('worker'), workerId: `${options.namespace}-worker`, executors: { ...builtInExecutors }, concurrency: options.worker.concurrency ?? 1, logger: silentLogger });
      await worker.start();
      closers.push(() => worker.stop({ drainMs: 2000 }));
    }
    await app.listen(0, '127.0.0.1');
    const address = app.getHttpServer().address();
    if (typeof address !== 'object' || !address) throw new Error('gateway is not listening');
    return { url: `http://127.0.0.1:${address.port}`, systemKey, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/**
 * bootDistributed on the test servers (PostgreSQL, NATS, Redis of testInfra), in a database of its
 * own that is dropped when the stack closes (or when it fails to boot).
 */
export async function bootDistributedOnTestServers(options: Omit<DistributedOptions, 'databaseUrl' | 'natsUrl' | 'redisUrl'>): Promise<BootedDistributed> {
  const database = await createTestDatabase(options.namespace.replace(/[^a-z0-9_]/gi, '_'));
  let booted: BootedDistributed;
  try {
    booted = await bootDistributed({ ...options, databaseUrl: database.url, natsUrl: testInfra.natsUrl, redisUrl: testInfra.redisUrl });
  } catch (error) {
    await database.drop();
    throw error;
  }
  return {
    ...booted,
    close: async () => {
      await booted.close();
      await database.drop();
    },
  };
}
