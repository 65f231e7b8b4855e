import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplicationContext } from '@nestjs/common';
import {
  CreateRun,
  CreateSession,
  GetRun,
  ListPlanSteps,
  ListRuns,
  RunStatusChanged,
  type CallerScope,
  type EventEnvelope,
  type PayloadOf,
  type RunStatusChangedData,
  type RunView,
} from '@runyard/contracts';
import { NatsBus } from '@runyard/messaging';
import { runMigrations } from '@runyard/persistence';
import { createLogger } from '@runyard/runtime';
import { createRunsApp, createRunsDataSource } from '@runyard/runs';
import { createSessionsApp, createSessionsDataSource } from '@runyard/sessions';
import { createTestDatabase, deleteNatsNamespace, expectEventually, freePort, recordEvents, testInfra, uniqueName } from '@runyard/testing';
import { v7 as uuidv7 } from 'uuid';

// Distributed mode for real: the sessions and runs services on PostgreSQL and NATS (in this process),
// and worker replicas as separate processes (`node apps/worker/dist/main.js`, built beforehand) that
// are stopped with SIGTERM or killed with SIGKILL. Isolated by a database and a NATS namespace.

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const WORKER_MAIN = join(ROOT, 'apps/worker/dist/main.js');
// Short, so a killed worker's run is recovered quickly; not so short that a healthy worker on a busy CI machine misses a renewal.
const LEASE_TTL_MS = 3000;
const SWEEP_INTERVAL_MS = 100;

interface WorkerProcess {
  id: string;
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Its log lines, for the failure message. */
  output: string[];
}

const namespace = uniqueName('worker_it');
const logger = createLogger('worker-it', 'silent');
const scope: CallerScope = { tenant_id: uuidv7(), principal_id: uuidv7(), role: 'admin' };
let database: Awaited<ReturnType<typeof createTestDatabase>>;
const closers: (() => Promise<unknown>)[] = [];
const processes: WorkerProcess[] = [];
let client: NatsBus;
let events: EventEnvelope[] = [];
let first: WorkerProcess;
let second: WorkerProcess;

async function spawnWorker(id: string): Promise<WorkerProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [WORKER_MAIN], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      PATH: process.env.PATH,
      NATS_URL: testInfra.natsUrl,
      NATS_NAMESPACE: namespace,
      WORKER_ID: id,
      WORKER_CONCURRENCY: '8',
      WORKER_LEASE_TTL_MS: String(LEASE_TTL_MS),
      WORKER_EXECUTORS: 'echo,script',
      WORKER_DRAIN_MS: '2000',
      WORKER_CLAIM_POLL_MS: '500',
      PORT: String(port),
      LOG_LEVEL: 'warn',
    },
  });
  const output: string[] = [];
  for (const stream of [child.stdout, child.stderr]) stream?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolveExit) => child.once('exit', (code, signal) => resolveExit({ code, signal })));
  const worker: WorkerProcess = { id, child, exited, output };
  processes.push(worker);
  await expectEventually(
    async () => {
      if (child.exitCode !== null) throw new Error(`worker ${id} exited with ${child.exitCode}: ${output.join('')}`);
      const response = await fetch(`http://127.0.0.1:${port}/readyz`);
      expect(response.status).toBe(200);
    },
    { timeoutMs: 20_000, intervalMs: 100 },
  );
  return worker;
}

function create(body: PayloadOf<typeof CreateRun>['body']): Promise<RunView> {
  return client.request(CreateRun, { scope, body });
}

function get(runId: string): Promise<RunView> {
  return client.request(GetRun, { scope, run_id: runId });
}

async function listAll(createdAfter: string): Promise<RunView[]> {
  const runs: RunView[] = [];
  let cursor: string | undefined;
  do {
    const page = await client.request(ListRuns, { scope, query: { limit: 200, created_after: createdAfter, ...(cursor === undefined ? {} : { cursor }) } });
    runs.push(...page.data);
    cursor = page.next_cursor ?? undefined;
  } while (cursor !== undefined);
  return runs;
}

function statusChanges(runId: string): RunStatusChangedData[] {
  return events.filter((event) => event.subject === RunStatusChanged.subject && event.run_id === runId).map((event) => event.data as RunStatusChangedData);
}

const script = (scenario: object): string => JSON.stringify(scenario);

beforeAll(async () => {
  if (!existsSync(WORKER_MAIN)) throw new Error(`${WORKER_MAIN} is missing: build first (npx tsc -b tsconfig.build.json)`);
  database = await createTestDatabase('worker_it');
  // Last to run: nothing of this file may outlive it on the shared servers.
  closers.push(() => database.drop());
  closers.push(() => deleteNatsNamespace(testInfra.natsUrl, namespace));

  const sessionsBus = await NatsBus.connect({ servers: testInfra.natsUrl, name: 'worker-it-sessions', namespace });
  closers.push(() => sessionsBus.close());
  const sessionsDb = createSessionsDataSource({ kind: 'postgres', url: database.url, poolMax: 5 });
  await runMigrations(sessionsDb);
  closers.push(() => sessionsDb.destroy());
  const sessions: INestApplicationContext = await createSessionsApp({ bus: sessionsBus, dataSource: sessionsDb, logger });
  closers.push(() => sessions.close());

  const runsBus = await NatsBus.connect({ servers: testInfra.natsUrl, name: 'worker-it-runs', namespace });
  closers.push(() => runsBus.close());
  const runsDb = createRunsDataSource({ kind: 'postgres', url: database.url, poolMax: 10 });
  await runMigrations(runsDb);
  closers.push(() => runsDb.destroy());
  // Frequent sweeps, so a crashed worker's lease is noticed right after it expires.
  const runs: INestApplicationContext = await createRunsApp({ bus: runsBus, dataSource: runsDb, logger }, { settings: { leaseSweepIntervalMs: SWEEP_INTERVAL_MS } });
  closers.push(() => runs.close());

  client = await NatsBus.connect({ servers: testInfra.natsUrl, name: 'worker-it-client', namespace });
  closers.push(() => client.close());
  const recording = await recordEvents<EventEnvelope>(client, 'worker-it-events', 'runs.evt.run.>');
  events = recording.events;
  closers.push(() => recording.stop());

  [first, second] = await Promise.all([spawnWorker('worker-a'), spawnWorker('worker-b')]);
}, 120_000);

afterAll(async () => {
  for (const worker of processes) {
    if (worker.child.exitCode === null && worker.child.signalCode === null) {
      worker.child.kill('SIGKILL');
      await worker.exited;
    }
  }
  for (const close of closers.reverse()) await close().catch(() => undefined);
}, 60_000);

describe('worker processes', () => {
  it('share hundreds of runs, each executed exactly once', async () => {
    const since = new Date(Date.now() - 1000).toISOString();
    const created: RunView[] = [];
    for (let batch = 0; batch < 6; batch++) {
      created.push(...(await Promise.all(Array.from({ length: 50 }, (_, i) => create({ route: { executor: 'script' }, input: script({ steps: [], output: { n: batch * 50 + i } }) })))));
    }
    const ids = new Set(created.map((run) => run.id));

    await expectEventually(
      () => {
        const completed = events.filter((event) => event.subject === RunStatusChanged.subject && ids.has(event.run_id ?? '') && (event.data as RunStatusChangedData).to === 'completed');
        expect(completed).toHaveLength(created.length);
      },
      { timeoutMs: 90_000, intervalMs: 200 },
    );

    const runs = await listAll(since);
    expect(runs.filter((run) => ids.has(run.id))).toHaveLength(created.length);
    const byWorker = new Map<string, number>();
    for (const run of runs.filter((candidate) => ids.has(candidate.id))) {
      // One claim each (attempt 1), done by the worker that claimed it, with its own output.
      const { output } = JSON.parse(run.input ?? '{}') as { output: { n: number } };
      expect(run).toMatchObject({ status: 'completed', attempt: 1, output });
      const changes = statusChanges(run.id);
      const claims = changes.filter((change) => change.to === 'running');
      expect(claims).toHaveLength(1);
      expect(changes.filter((change) => change.to === 'completed').map((change) => change.run.worker_id)).toEqual([claims[0].run.worker_id]);
      byWorker.set(run.worker_id ?? '', (byWorker.get(run.worker_id ?? '') ?? 0) + 1);
    }
    expect([...byWorker.keys()].sort()).toEqual(['worker-a', 'worker-b']);
  }, 120_000);

  it('recover the run of a worker killed mid-run within its lease TTL, and the session queue moves on', async () => {
    // Only one worker is left while the long runs are claimed, so the one killed holds them both.
    second.child.kill('SIGTERM');
    expect(await second.exited).toEqual({ code: 0, signal: null });

    const retriedSession = await client.request(CreateSession, { scope, body: { title: 'retried' } });
    const crashedSession = await client.request(CreateSession, { scope, body: { title: 'crashed' } });
    const retried = await create({
      session_id: retriedSession.id,
      route: { executor: 'script' },
      max_attempts: 2,
      input: script({ steps: [{ step: 'work', title: 'Work', delay_ms: 2500 }], output: { done: true } }),
    });
    const afterRetried = await create({ session_id: retriedSession.id, route: { executor: 'script' }, input: script({ steps: [] }) });
    const crashed = await create({ session_id: crashedSession.id, route: { executor: 'script' }, max_attempts: 1, input: script({ steps: [{ delay_ms: 600_000 }] }) });
    const afterCrashed = await create({ session_id: crashedSession.id, route: { executor: 'script' }, input: script({ steps: [] }) });
    expect([afterRetried.status, afterCrashed.status]).toEqual(['queued', 'queued']);
    for (const run of [retried, crashed]) {
      await expectEventually(async () => expect(await get(run.id)).toMatchObject({ status: 'running', worker_id: first.id }));
    }

    const survivor = await spawnWorker('worker-c');
    const killedAt = Date.now();
    first.child.kill('SIGKILL');
    expect(await first.exited).toEqual({ code: null, signal: 'SIGKILL' });

    // Attempts left: pending again and finished by the other worker. None left: failed as crashed.
    await expectEventually(async () => expect(await get(crashed.id)).toMatchObject({ status: 'failed', failure_class: 'crashed' }));
    const recovered = (run: RunView): number => {
      const change = statusChanges(run.id).find((candidate) => candidate.from === 'running' && candidate.run.worker_id === first.id);
      if (change === undefined) throw new Error(`run ${run.id} was not recovered`);
      return Date.parse(change.run.updated_at);
    };
    await expectEventually(() => {
      for (const run of [retried, crashed]) expect(recovered(run) - killedAt).toBeLessThan(LEASE_TTL_MS + SWEEP_INTERVAL_MS + 1000);
    });
    expect(statusChanges(retried.id).find((change) => change.from === 'running')?.to).toBe('pending');

    const done = await expectEventually(
      async () => {
        const run = await get(retried.id);
        expect(run).toMatchObject({ status: 'completed', worker_id: survivor.id, attempt: 2, output: { done: true } });
        return run;
      },
      { timeoutMs: 15_000 },
    );
    expect(done.failure_class).toBeNull();
    const steps = await client.request(ListPlanSteps, { scope, run_id: retried.id, query: {} });
    expect(steps.data.map(({ key, status }) => ({ key, status }))).toEqual([{ key: 'work', status: 'completed' }]);
    for (const run of [afterRetried, afterCrashed]) {
      await expectEventually(async () => expect(await get(run.id)).toMatchObject({ status: 'completed', worker_id: survivor.id }));
    }
  }, 60_000);
});
