import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplicationContext } from '@nestjs/common';
import {
  AnswerWait,
  CancelRun,
  ClaimRun,
  CompleteRun,
  CreateRun,
  CreateSession,
  ErrorCode,
  ListRuns,
  RequestWait,
  RunCreated,
  RunStatusChanged,
  type AnyCommand,
  type CallerScope,
  type ClaimedRun,
  type EventEnvelope,
  type RunStatusChangedData,
} from '@runyard/contracts';
import { NatsBus, type Bus, type CommandHandlerFn } from '@runyard/messaging';
import { runMigrations } from '@runyard/persistence';
import { createLogger } from '@runyard/runtime';
import { createTestDatabase, deleteNatsNamespace, expectEventually, freePort, recordEvents, testInfra, uniqueName } from '@runyard/testing';
import type { DataSource } from 'typeorm';
import { v7 as uuidv7 } from 'uuid';
import { createSessionsApp, createSessionsDataSource } from '@runyard/sessions';
import { createRunsApp, createRunsDataSource, runsReadinessChecks } from './runs.app.js';

// Distributed mode for real: two replicas of the runs service (own NATS connections and connection
// pools, one queue group) on PostgreSQL and NATS, and workers on connections of their own. Isolated by
// a database and a NATS namespace (subjects and stream) of this file's own.

interface Replica {
  bus: NatsBus;
  dataSource: DataSource;
  app: INestApplicationContext;
  /** Subjects of the commands this replica handled. */
  served: string[];
}

const namespace = uniqueName('runs_it');
const logger = createLogger('runs-it', 'silent');
let database: Awaited<ReturnType<typeof createTestDatabase>>;
let replicas: Replica[] = [];
let caller: NatsBus;
let workers: NatsBus[] = [];
let healthPort: number;
/** The sessions service, which run creation asks for the session. */
let sessions: { bus: NatsBus; dataSource: DataSource; app: INestApplicationContext } | undefined;
let recording: Awaited<ReturnType<typeof recordEvents<EventEnvelope>>> | undefined;
let events: EventEnvelope[] = [];

/** The same bus, noting each command it hands to this replica's handlers. */
function recordingBus(bus: Bus, served: string[]): Bus {
  return {
    request: (command, payload, options) => bus.request(command, payload, options),
    handle: <C extends AnyCommand>(command: C, queueGroup: string, handler: CommandHandlerFn<C>) =>
      bus.handle(command, queueGroup, (payload, ctx) => {
        served.push(command.subject);
        return handler(payload, ctx);
      }),
    submit: (command, payload, options) => bus.submit(command, payload, options),
    work: (command, options) => bus.work(command, options),
    publish: (envelope, headers) => bus.publish(envelope, headers),
    consume: (options) => bus.consume(options),
    tail: (options) => bus.tail(options),
    eventLog: () => bus.eventLog(),
    status: () => bus.status(),
    close: () => bus.close(),
  };
}

async function startReplica(index: number, httpPort?: number): Promise<Replica> {
  const bus = await NatsBus.connect({ servers: testInfra.natsUrl, name: `runs-it-${index}`, namespace });
  const dataSource = createRunsDataSource({ kind: 'postgres', url: database.url });
  await dataSource.initialize();
  const served: string[] = [];
  const app = await createRunsApp({ bus: recordingBus(bus, served), dataSource, logger }, { httpPort, readinessChecks: runsReadinessChecks({ bus, dataSource }) });
  return { bus, dataSource, app, served };
}

beforeAll(async () => {
  database = await createTestDatabase('runs_it');
  const migrator = createRunsDataSource({ kind: 'postgres', url: database.url });
  await migrator.initialize();
  await runMigrations(migrator);
  await migrator.destroy();
  const sessionsBus = await NatsBus.connect({ servers: testInfra.natsUrl, name: 'runs-it-sessions', namespace });
  const sessionsDataSource = createSessionsDataSource({ kind: 'postgres', url: database.url });
  await runMigrations(sessionsDataSource);
  sessions = { bus: sessionsBus, dataSource: sessionsDataSource, app: await createSessionsApp({ bus: sessionsBus, dataSource: sessionsDataSource, logger }) };
  healthPort = await freePort();
  replicas = [await startReplica(1, healthPort), await startReplica(2)];
  caller = await NatsBus.connect({ servers: testInfra.natsUrl, name: 'runs-it-caller', namespace });
  workers = await Promise.all(Array.from({ length: 8 }, (_, i) => NatsBus.connect({ servers: testInfra.natsUrl, name: `runs-it-worker-${i}`, namespace })));
  recording = await recordEvents<EventEnvelope>(caller, 'runs-it', 'runs.evt.>');
  events = recording.events;
}, 60_000);

afterAll(async () => {
  await recording?.stop();
  for (const replica of replicas) {
    await replica.app.close();
    await replica.bus.close();
    await replica.dataSource.destroy();
  }
  for (const worker of workers) await worker.close();
  await sessions?.app.close();
  await sessions?.bus.close();
  await sessions?.dataSource.destroy();
  await caller?.close();
  await deleteNatsNamespace(testInfra.natsUrl, namespace);
  await database?.drop();
}, 60_000);

function tenantAdmin(): CallerScope {
  return { tenant_id: uuidv7(), principal_id: uuidv7(), role: 'admin' };
}

/** A worker claiming until nothing is pending; returns what it claimed. */
async function drain(worker: Bus, workerId: string, executor: string): Promise<ClaimedRun[]> {
  const claimed: ClaimedRun[] = [];
  for (;;) {
    const next = await worker.request(ClaimRun, { worker_id: workerId, executors: [executor], lease_ttl_ms: 60_000 }, { timeoutMs: 15_000 });
    if (next === null) return claimed;
    claimed.push(next);
  }
}

describe('runs service, two replicas on PostgreSQL and NATS', () => {
  it('hands each of 200 runs to exactly one of 8 concurrent workers, and completes them all', async () => {
    const admin = tenantAdmin();
    const executor = `x-${uuidv7()}`;
    const created = await Promise.all(
      Array.from({ length: 200 }, (_, i) => caller.request(CreateRun, { scope: admin, body: { input: `job ${i}`, route: { executor } } }, { timeoutMs: 15_000 })),
    );
    expect(new Set(created.map((run) => run.status))).toEqual(new Set(['pending']));

    const claims = await Promise.all(workers.map((worker, i) => drain(worker, `worker-${i}`, executor)));
    const claimedIds = claims.flat().map((claim) => claim.run.id);
    expect(claimedIds).toHaveLength(200);
    expect(new Set(claimedIds).size).toBe(200);
    expect([...claimedIds].sort()).toEqual(created.map((run) => run.id).sort());
    // Both replicas served claims, so the claims raced in the database, not in one process.
    for (const replica of replicas) expect(replica.served.filter((subject) => subject === ClaimRun.subject).length).toBeGreaterThan(0);
    for (const [i, claimsOfWorker] of claims.entries()) {
      for (const claim of claimsOfWorker) expect(claim.run).toMatchObject({ status: 'running', worker_id: `worker-${i}`, attempt: 1 });
    }

    const completed = await Promise.all(
      claims.flatMap((claimsOfWorker, i) =>
        claimsOfWorker.map((claim) =>
          workers[i].request(CompleteRun, { tenant_id: admin.tenant_id, run_id: claim.run.id, lease_token: claim.lease_token, output: { i } }, { timeoutMs: 15_000 }),
        ),
      ),
    );
    expect(new Set(completed.map((run) => run.status))).toEqual(new Set(['completed']));
    const listed = await caller.request(ListRuns, { scope: admin, query: { status: 'completed', limit: 200 } });
    expect(listed.data).toHaveLength(200);

    const completions = (): string[] =>
      events
        .filter((event) => event.tenant_id === admin.tenant_id && event.subject === RunStatusChanged.subject && (event.data as RunStatusChangedData).to === 'completed')
        .map((event) => event.run_id as string);
    await expectEventually(() => expect(completions().sort()).toEqual(created.map((run) => run.id).sort()), { timeoutMs: 30_000 });
  }, 90_000);

  it('keeps one active run per session under concurrent creates and cancels through both replicas', async () => {
    const admin = tenantAdmin();
    const session = await caller.request(CreateSession, { scope: admin, body: {} });
    const created = await Promise.all(
      Array.from({ length: 30 }, () => caller.request(CreateRun, { scope: admin, body: { session_id: session.id } }, { timeoutMs: 15_000 })),
    );
    const [active, ...queued] = [...created].sort((a, b) => (a.queue_position ?? 0) - (b.queue_position ?? 0));
    expect(active.status).toBe('pending');
    expect(queued.map((run) => [run.status, run.queue_position])).toEqual(queued.map((_, i) => ['queued', i + 1]));
    for (const replica of replicas) expect(replica.served.filter((subject) => subject === CreateRun.subject).length).toBeGreaterThan(0);

    // Cancelling the active run and the first ten queued ones at once: the slot passes on, once each time.
    await Promise.all([active, ...queued.slice(0, 10)].map((run) => caller.request(CancelRun, { scope: admin, run_id: run.id, body: {} }, { timeoutMs: 15_000 })));
    const after = await caller.request(ListRuns, { scope: admin, query: { session_id: session.id, limit: 200 } });
    const byStatus = (status: string): string[] => after.data.filter((run) => run.status === status).map((run) => run.id);
    expect(byStatus('cancelled')).toHaveLength(11);
    expect(byStatus('pending')).toEqual([queued[10].id]);
    expect(byStatus('queued')).toHaveLength(18);
  }, 60_000);

  it('creates one run for concurrent creates with one idempotency key outside any session (the unique index decides)', async () => {
    // No session queue lock or parent row lock orders these: duplicates that miss each other's
    // uncommitted row collide on the unique index, and the losers answer with the winner.
    const admin = tenantAdmin();
    const body = { input: 'once', route: { executor: `x-${uuidv7()}` } };
    const runs = await Promise.all(
      Array.from({ length: 24 }, () => caller.request(CreateRun, { scope: admin, body, idempotency_key: 'api:concurrent' }, { timeoutMs: 15_000 })),
    );
    expect(new Set(runs.map((run) => run.id)).size).toBe(1);
    expect((await caller.request(ListRuns, { scope: admin, query: { limit: 100 } })).data.map((run) => run.id)).toEqual([runs[0].id]);
    await expectEventually(() => expect(events.filter((event) => event.tenant_id === admin.tenant_id && event.subject === RunCreated.subject)).toHaveLength(1));
    // The same key with another body is a reuse, not a retry.
    const reuse = await caller.request(CreateRun, { scope: admin, body: { ...body, input: 'twice' }, idempotency_key: 'api:concurrent' }).then(
      () => 'ok',
      (error: { code?: string }) => error.code,
    );
    expect(reuse).toBe(ErrorCode.IDEMPOTENCY_KEY_REUSED);
  }, 60_000);

  it('checks an answer against its wait’s schema before locking anything: a run row held elsewhere does not delay a refusal', async () => {
    const admin = tenantAdmin();
    const executor = `x-${uuidv7()}`;
    const run = await caller.request(CreateRun, { scope: admin, body: { route: { executor } } });
    const claimed = await workers[0].request(ClaimRun, { worker_id: 'worker-0', executors: [executor], lease_ttl_ms: 60_000 });
    expect(claimed?.run.id).toBe(run.id);
    const lease = { tenant_id: admin.tenant_id, run_id: run.id, lease_token: claimed!.lease_token };
    const { wait } = await workers[0].request(RequestWait, { ...lease, key: 'branch', kind: 'input', prompt: 'Which branch?', schema: { type: 'object', required: ['branch'] } });
    const answer = (input: Record<string, unknown>) => caller.request(AnswerWait, { scope: admin, run_id: run.id, wait_id: wait.id, decision: 'responded', input }, { timeoutMs: 5000 });

    const holder = replicas[0].dataSource.createQueryRunner();
    await holder.connect();
    await holder.startTransaction();
    try {
      await holder.query(`SELECT id FROM runs WHERE id = $1 FOR UPDATE`, [run.id]);
      // A request blocked behind the lock would time out instead (upstream_timeout).
      const refused = await answer({ nope: true }).then(
        () => 'ok',
        (error: { code?: string }) => error.code,
      );
      expect(refused).toBe(ErrorCode.VALIDATION_FAILED);
    } finally {
      await holder.rollbackTransaction();
      await holder.release();
    }
    expect((await answer({ branch: 'main' })).run).toMatchObject({ id: run.id, status: 'pending' });
  }, 30_000);

  it('serves /healthz and /readyz on the health port', async () => {
    const readyz = await fetch(`http://127.0.0.1:${healthPort}/readyz`);
    expect(readyz.status).toBe(200);
    expect(await readyz.json()).toMatchObject({ status: 'ready', checks: [{ name: 'database', ok: true }, { name: 'bus', ok: true }] });
  });
});
