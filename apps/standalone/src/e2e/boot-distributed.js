import { randomBytes } from 'node:crypto';
import { createGatewayApp, gatewayEntities, gatewayReadinessChecks, gatewayMigrations, GATEWAY_SCHEMA } from '@runyard/gateway';
import { NatsBus } from '@runyard/messaging';
import { createServiceDataSource, runMigrations } from '@runyard/persistence';
import { createLogger } from '@runyard/runtime';
import { createRunsApp, runsEntities, runsMigrations, RUNS_SCHEMA } from '@runyard/runs';
import { deleteNatsStream } from '@runyard/testing';
import { createSessionsApp, sessionsEntities, sessionsMigrations, SESSIONS_SCHEMA } from '@runyard/sessions';
import { createTranscriptsApp, transcriptsEntities, transcriptsMigrations, TRANSCRIPTS_SCHEMA } from '@runyard/transcripts';
import { builtInExecutors, silentLogger, Worker } from '@runyard/worker';
import { Redis } from 'ioredis';
/**
 * Distributed mode inside one test process: the gateway, N sessions and M runs replicas, each with its own
 * NATS connection and database pool, exactly as separate processes would have (the processes
 * themselves are exercised by the benchmark and docker-compose).
 */
export async function bootDistributed(options) {
    const logger = createLogger('runyard-test', process.env.TEST_LOG_LEVEL ?? 'silent');
    const closers = [];
    const close = async () => {
        for (const closer of closers.reverse())
            await closer().catch(() => undefined);
    };
    const connect = async (name) => {
        const bus = await NatsBus.connect({ servers: options.natsUrl, name, namespace: options.namespace });
        closers.push(() => bus.close());
        return bus;
    };
    const dataSource = async (schema, entities, migrations) => {
        const ds = createServiceDataSource({
            schema,
            target: { kind: 'postgres', url: options.databaseUrl, poolMax: 5 },
            entities: entities,
            migrations: migrations,
        });
        await runMigrations(ds);
        closers.push(() => ds.destroy());
        return ds;
    };
    // Last to run: the namespace's event stream must not outlive the test on a shared server.
    closers.push(() => deleteNatsStream(options.natsUrl, `${options.namespace}_events`));
    try {
        for (let i = 0; i < (options.sessionsReplicas ?? 2); i++) {
            const bus = await connect(`sessions-${i}`);
            const db = await dataSource(SESSIONS_SCHEMA, sessionsEntities, sessionsMigrations);
            const app = await createSessionsApp({ bus, dataSource: db, logger });
            closers.push(() => app.close());
        }
        for (let i = 0; i < (options.runsReplicas ?? 2); i++) {
            const bus = await connect(`runs-${i}`);
            const db = await dataSource(RUNS_SCHEMA, runsEntities, runsMigrations);
            const app = await createRunsApp({ bus, dataSource: db, logger });
            closers.push(() => app.close());
        }
        for (let i = 0; i < (options.transcriptsReplicas ?? 2); i++) {
            const bus = await connect(`transcripts-${i}`);
            const db = await dataSource(TRANSCRIPTS_SCHEMA, transcriptsEntities, transcriptsMigrations);
            const app = await createTranscriptsApp({ bus, dataSource: db, logger }, { logs: options.logs });
            closers.push(() => app.close());
        }
        const bus = await connect('gateway');
        const db = await dataSource(GATEWAY_SCHEMA, gatewayEntities, gatewayMigrations);
        const redis = new Redis(options.redisUrl, { maxRetriesPerRequest: 1 });
        closers.push(async () => redis.quit());
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
        if (typeof address !== 'object' || !address)
            throw new Error('gateway is not listening');
        return { url: `http://127.0.0.1:${address.port}`, systemKey, close };
    }
    catch (error) {
        await close();
        throw error;
    }
}
//# sourceMappingURL=boot-distributed.js.map