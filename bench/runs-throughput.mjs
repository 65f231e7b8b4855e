// Benchmark: runs created over HTTP and driven to `completed` by worker processes with a no-op
// executor, beside pg-boss (v10) doing send → work → complete for the same number of jobs, with the
// same number of concurrent handlers, on the same PostgreSQL (a fresh database for each), in the
// same run. Then the create latency at a fixed arrival rate.
//
//   npm run bench:runs
//   env: BENCH_RUNS=2000 BENCH_WORKERS=2 BENCH_WORKER_CONCURRENCY=8 BENCH_CLIENT_CONCURRENCY=32
//        BENCH_RATE=200,100 BENCH_RATE_SECONDS=10 BENCH_WARMUP=200 DATABASE_URL NATS_URL REDIS_URL
//
// Runyard: gateway, runs and BENCH_WORKERS worker replicas, each its own process (distributed mode:
// PostgreSQL, NATS with JetStream, Redis). A run is created with POST /v1/runs (route executor
// `script`, input `{"steps":[]}`: the worker's script executor with an empty scenario does nothing
// and returns `{}`), claimed by a worker under a lease and completed — each state change committed
// with its event (transactional outbox) and relayed to JetStream. Completion is observed the way a
// client would: the `run.status_changed` event to `completed` arriving on NATS.
//
// pg-boss: jobs sent by this process through its own pool (one connection per concurrent send),
// worked by BENCH_WORKERS worker processes (bench/pgboss-worker.mjs), both as its docs recommend
// (`work`) and as a hand-written fetch/complete loop (`loop`, its SQL without the polling cadence).
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import PgBoss from 'pg-boss';
import { ensureBuilt, ensureInstalled, root } from '../scripts/workspace.mjs';
import {
  closedLoop,
  cpuSecondsOfAll,
  databaseUrlFor,
  freePort,
  busyShare,
  machine,
  machineCpu,
  openLoop,
  pidsNamed,
  runNode,
  sql,
  startNode,
  stop,
  summary,
  waitOutput,
  waitReady,
} from './lib.mjs';

const runs = Number(process.env.BENCH_RUNS ?? 2000);
const workers = Number(process.env.BENCH_WORKERS ?? 2);
const workerConcurrency = Number(process.env.BENCH_WORKER_CONCURRENCY ?? 8);
const clientConcurrency = Number(process.env.BENCH_CLIENT_CONCURRENCY ?? 32);
// One or more arrival rates, comma-separated: 200 as asked; 100 shows the latency at a rate the stack sustains here.
const rates = (process.env.BENCH_RATE ?? '200,100').split(',').map(Number);
const rateSeconds = Number(process.env.BENCH_RATE_SECONDS ?? 10);
const warmup = Number(process.env.BENCH_WARMUP ?? 200);
const adminUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const natsUrl = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const COMPLETION_TIMEOUT_MS = 300_000;

ensureInstalled();
ensureBuilt();

const runId = `${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
const runyardDatabase = `runyard_bench_runs_${runId}`;
const bossDatabase = `pgboss_bench_${runId}`;
const namespace = `bench_${runId}`;
const runyardUrl = databaseUrlFor(adminUrl, runyardDatabase);
const bossUrl = databaseUrlFor(adminUrl, bossDatabase);

/** Wall-clock milliseconds with sub-millisecond resolution, comparable with database timestamps. */
const wallNow = () => performance.timeOrigin + performance.now();

const children = [];
let nc;
async function cleanup() {
  for (const child of children.reverse()) await stop(child);
  await nc?.close().catch(() => undefined);
  for (const database of [runyardDatabase, bossDatabase]) {
    await sql(adminUrl, `DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`).catch((error) => console.error(`could not drop ${database}: ${error.message}`));
  }
  const admin = await connect({ servers: natsUrl }).catch(() => undefined);
  if (admin) {
    const jsm = await jetstreamManager(admin);
    for (const name of [`${namespace}_events`, `${namespace}_work`]) await jsm.streams.delete(name).catch(() => undefined);
    await admin.close();
  }
}

/** CPU seconds so far of each named process group; diff two snapshots for a phase. */
function cpuSnapshot(groups) {
  const snapshot = { machine: machineCpu(), bench: process.cpuUsage() };
  for (const [name, pids] of Object.entries(groups)) snapshot[name] = cpuSecondsOfAll(typeof pids === 'function' ? pids() : pids);
  return snapshot;
}
function cpuMsPerItem(before, after, items) {
  const perItem = { busy: busyShare(before.machine, after.machine) };
  let accounted = 0;
  for (const name of Object.keys(before)) {
    if (name === 'machine') continue;
    const seconds =
      name === 'bench' ? (after.bench.user - before.bench.user + after.bench.system - before.bench.system) / 1e6 : after[name] - before[name];
    perItem[name] = (seconds * 1000) / items;
    accounted += seconds;
  }
  // Busy time of everything else on the machine (other work, the kernel's own threads): high means a disturbed run.
  perItem.others = (((after.machine.busy - before.machine.busy) / 100 - accounted) * 1000) / items;
  return perItem;
}
const infraGroups = { postgres: () => pidsNamed('postgres'), nats: () => pidsNamed('nats-server'), redis: () => pidsNamed('redis-server') };

// ---- Runyard ----

/** POST with a keep-alive agent; resolves with the status and the parsed JSON body. */
function postJson(agent, port, path, headers, body) {
  return new Promise((resolve, reject) => {
    const payload = Buffer.from(JSON.stringify(body));
    const request = http.request(
      { agent, host: '127.0.0.1', port, path, method: 'POST', headers: { ...headers, 'content-type': 'application/json', 'content-length': payload.length } },
      (response) => {
        const chunks = [];
        response.on('data', (chunk) => chunks.push(chunk));
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          try {
            resolve({ status: response.statusCode, json: JSON.parse(text) });
          } catch {
            resolve({ status: response.statusCode, json: text });
          }
        });
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(payload);
  });
}

/**
 * Every run event this namespace publishes, as it arrives on NATS: per run, when its `run.created`,
 * `running` and `completed` events were seen. `whenCompleted(ids)` resolves once each id's
 * completion was seen.
 */
function trackRunEvents(connection) {
  const seen = new Map();
  let waiter;
  const entry = (id) => {
    let e = seen.get(id);
    if (!e) seen.set(id, (e = {}));
    return e;
  };
  connection.subscribe(`${namespace}.runs.evt.run.>`, {
    callback: (error, msg) => {
      if (error) return;
      const at = wallNow();
      const envelope = JSON.parse(new TextDecoder().decode(msg.data));
      if (envelope.subject === 'runs.evt.run.created.v1') entry(envelope.data.id).created = at;
      else if (envelope.subject === 'runs.evt.run.status_changed.v1') {
        const e = entry(envelope.data.run.id);
        e[envelope.data.to] = at;
        e.changes = (e.changes ?? 0) + 1;
        if (envelope.data.to === 'completed' && waiter?.pending.delete(envelope.data.run.id) && waiter.pending.size === 0) waiter.resolve();
      }
    },
  });
  return {
    seen,
    whenCompleted(ids) {
      const pending = new Set(ids.filter((id) => seen.get(id)?.completed === undefined));
      if (pending.size === 0) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${pending.size} of ${ids.length} runs not completed after ${COMPLETION_TIMEOUT_MS} ms`)), COMPLETION_TIMEOUT_MS);
        waiter = {
          pending,
          resolve: () => {
            clearTimeout(timer);
            waiter = undefined;
            resolve();
          },
        };
      });
    },
  };
}

// BENCH_CPU_PROF_DIR: each Runyard process writes a V8 CPU profile there when it exits (where the time goes).
const profiling = process.env.BENCH_CPU_PROF_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF_DIR}`] : [];

async function startRunyard() {
  const env = { DATABASE_URL: runyardUrl, NATS_URL: natsUrl, NATS_NAMESPACE: namespace, REDIS_URL: redisUrl, LOG_LEVEL: 'warn' };
  await runNode(join(root, 'apps/gateway/dist/migrate.js'), env, root);
  await runNode(join(root, 'apps/runs/dist/migrate.js'), env, root);
  const runsPort = await freePort();
  const runsService = startNode(join(root, 'apps/runs/dist/main.js'), { ...env, PORT: String(runsPort) }, root, profiling);
  children.push(runsService);
  await waitReady(`http://127.0.0.1:${runsPort}/readyz`, runsService);
  const gatewayPort = await freePort();
  const systemKey = `ryk_sys_${randomBytes(24).toString('base64url')}`;
  const gateway = startNode(
    join(root, 'apps/gateway/dist/main.js'),
    // The rate limit is raised so it measures the stack, not the limiter's refusals.
    { ...env, PORT: String(gatewayPort), HOST: '127.0.0.1', RUNYARD_BOOTSTRAP_API_KEY: systemKey, RATE_LIMIT_POINTS: '100000000', RATE_LIMIT_DURATION_SECONDS: '1' },
    root,
    profiling,
  );
  children.push(gateway);
  await waitReady(`http://127.0.0.1:${gatewayPort}/readyz`, gateway);
  const workerProcesses = [];
  for (let i = 0; i < workers; i++) {
    const port = await freePort();
    const worker = startNode(
      join(root, 'apps/worker/dist/main.js'),
      {
        NATS_URL: natsUrl,
        NATS_NAMESPACE: namespace,
        WORKER_ID: `bench-worker-${i}`,
        WORKER_CONCURRENCY: String(workerConcurrency),
        WORKER_EXECUTORS: 'script',
        PORT: String(port),
        LOG_LEVEL: 'warn',
      },
      root,
      profiling,
    );
    children.push(worker);
    workerProcesses.push(worker);
    await waitReady(`http://127.0.0.1:${port}/readyz`, worker);
  }
  const tenant = await fetch(`http://127.0.0.1:${gatewayPort}/v1/tenants`, {
    method: 'POST',
    headers: { authorization: `Bearer ${systemKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'Bench' }),
  }).then((r) => r.json());
  return { gateway, runsService, workerProcesses, gatewayPort, apiKey: tenant.api_key.key };
}

/** The no-op run: the script executor with an empty scenario returns `{}` at once. */
const RUN_BODY = { input: JSON.stringify({ steps: [] }), route: { executor: 'script' }, metadata: { bench: true } };

async function runyardPhases() {
  const stack = await startRunyard();
  nc = await connect({ servers: natsUrl, name: 'bench-runs-observer' });
  const events = trackRunEvents(nc);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const headers = { authorization: `Bearer ${stack.apiKey}` };
  const create = async (ids, sentAt) => {
    const sent = wallNow();
    const response = await postJson(agent, stack.gatewayPort, '/v1/runs', headers, RUN_BODY);
    if (response.status !== 201) throw new Error(`POST /v1/runs answered ${response.status}: ${JSON.stringify(response.json)}`);
    ids.push(response.json.id);
    sentAt.set(response.json.id, sent);
  };
  const groups = {
    gateway: [stack.gateway.pid],
    runs: [stack.runsService.pid],
    workers: stack.workerProcesses.map((w) => w.pid),
    ...infraGroups,
  };

  // Warm-up: JIT, pools, prepared plans.
  {
    const ids = [];
    await closedLoop(warmup, clientConcurrency, () => create(ids, new Map()));
    await events.whenCompleted(ids);
  }

  // Throughput: N runs created as fast as `clientConcurrency` HTTP clients can, while workers drain them.
  const ids = [];
  const sentAt = new Map();
  const cpuBefore = cpuSnapshot(groups);
  const t0 = wallNow();
  const creates = await closedLoop(runs, clientConcurrency, () => create(ids, sentAt));
  await events.whenCompleted(ids);
  const cpu = cpuMsPerItem(cpuBefore, cpuSnapshot(groups), runs);
  const burst = await runyardOutcome(ids, sentAt, events, t0);
  burst.createLatency = summary(creates.latencies);
  burst.createSeconds = creates.seconds;
  burst.cpu = cpu;

  // Fixed arrival rates: one POST every 1/rate s, latency from when it was due.
  const fixed = [];
  for (const rate of rates) {
    const rateIds = [];
    const rateSentAt = new Map();
    const r0 = wallNow();
    const paced = await openLoop(rate, rateSeconds, () => create(rateIds, rateSentAt));
    await events.whenCompleted(rateIds);
    const outcome = await runyardOutcome(rateIds, rateSentAt, events, r0);
    fixed.push({ ...outcome, rate, paced, createLatency: summary(paced.latencies) });
  }

  agent.destroy();
  // Stop the stack before pg-boss runs, so it does not share the CPU.
  for (const child of [...stack.workerProcesses, stack.gateway, stack.runsService]) await stop(child);
  return { burst, fixed };
}

/** Durable and published: every run completed in the database, each state change seen on NATS, no event left in the outbox. */
async function runyardOutcome(ids, sentAt, events, t0) {
  const rows = await sql(
    runyardUrl,
    `SELECT id, status, worker_id, extract(epoch FROM created_at) * 1000 AS created, extract(epoch FROM started_at) * 1000 AS started,
            extract(epoch FROM finished_at) * 1000 AS finished
       FROM runs.runs WHERE id = ANY($1::uuid[])`,
    [ids],
  );
  const notCompleted = rows.filter((row) => row.status !== 'completed').length + (ids.length - rows.length);
  if (notCompleted > 0) throw new Error(`${notCompleted} runs are not completed in the database`);
  const unpublishedDeadline = Date.now() + 5000;
  let unpublished;
  do {
    [{ unpublished }] = await sql(runyardUrl, 'SELECT count(*)::int AS unpublished FROM runs.outbox_events WHERE published_at IS NULL');
  } while (unpublished > 0 && Date.now() < unpublishedDeadline);
  const missingEvents = ids.filter((id) => {
    const e = events.seen.get(id);
    return !(e?.created && e.running && e.completed && e.changes === 2);
  }).length;
  const lastCompletedEvent = Math.max(...ids.map((id) => events.seen.get(id).completed));
  const lastFinished = Math.max(...rows.map((row) => Number(row.finished)));
  return {
    perSecond: ids.length / ((lastCompletedEvent - t0) / 1000),
    perSecondDb: ids.length / ((lastFinished - t0) / 1000),
    // Commit to commit, as stored (created_at → finished_at): the same measure as pg-boss's created_on → completed_on.
    latencyDb: summary(rows.map((row) => Number(row.finished) - Number(row.created)).sort((a, b) => a - b)),
    // What a client sees: POST sent → the `completed` event received over NATS.
    latencyObserved: summary(ids.map((id) => events.seen.get(id).completed - sentAt.get(id)).sort((a, b) => a - b)),
    // Where a run's time goes: pending until claimed (created_at → started_at), then held by its worker (→ finished_at).
    pendingDb: summary(rows.map((row) => Number(row.started) - Number(row.created)).sort((a, b) => a - b)),
    heldDb: summary(rows.map((row) => Number(row.finished) - Number(row.started)).sort((a, b) => a - b)),
    claiming: claimPattern(rows, t0, lastFinished),
    missingEvents,
    unpublished,
  };
}

/**
 * How the workers claimed: per worker, the interval between consecutive claims (a worker claims one
 * run per request, one request at a time) and how many of its slots were in use on average.
 */
function claimPattern(rows, t0, end) {
  const byWorker = new Map();
  for (const row of rows) {
    if (!byWorker.has(row.worker_id)) byWorker.set(row.worker_id, []);
    byWorker.get(row.worker_id).push(row);
  }
  const gaps = [];
  let heldMs = 0;
  for (const list of byWorker.values()) {
    list.sort((a, b) => Number(a.started) - Number(b.started));
    for (let i = 1; i < list.length; i++) gaps.push(Number(list[i].started) - Number(list[i - 1].started));
    for (const row of list) heldMs += Number(row.finished) - Number(row.started);
  }
  return { interval: summary(gaps.sort((a, b) => a - b)), slotsInUse: heldMs / (end - t0) / Math.max(1, byWorker.size) };
}

// ---- pg-boss ----

async function bossPhases() {
  // Its own pool, one connection per concurrent send (node-postgres: one pooled client per concurrent query).
  const boss = new PgBoss({ connectionString: bossUrl, max: clientConcurrency });
  boss.on('error', (error) => console.error(`pg-boss: ${error.message}`));
  await boss.start();
  const results = {};
  try {
    for (const mode of ['work', 'loop']) {
      const queue = `bench_${mode}`;
      await boss.createQueue(queue);
      const workerProcesses = [];
      for (let i = 0; i < workers; i++) {
        const worker = startNode(
          join(root, 'bench/pgboss-worker.mjs'),
          { PGBOSS_URL: bossUrl, PGBOSS_QUEUE: queue, PGBOSS_MODE: mode, PGBOSS_CONCURRENCY: String(workerConcurrency), PGBOSS_POLL_SECONDS: '0.5' },
          root,
        );
        children.push(worker);
        workerProcesses.push(worker);
      }
      for (const worker of workerProcesses) await waitOutput(worker, 'ready');
      const groups = { workers: workerProcesses.map((w) => w.pid), postgres: infraGroups.postgres };
      const send = async (ids) => {
        ids.push(await boss.send(queue, { bench: true }));
      };

      {
        const ids = [];
        await closedLoop(warmup, clientConcurrency, () => send(ids));
        await bossCompleted(ids);
      }

      const ids = [];
      const cpuBefore = cpuSnapshot(groups);
      const t0 = wallNow();
      const sends = await closedLoop(runs, clientConcurrency, () => send(ids));
      await bossCompleted(ids);
      const cpu = cpuMsPerItem(cpuBefore, cpuSnapshot(groups), runs);
      const burst = await bossOutcome(ids, t0);
      burst.createLatency = summary(sends.latencies);
      burst.createSeconds = sends.seconds;
      burst.cpu = cpu;
      results[mode] = { burst };

      if (mode === 'work') {
        results[mode].fixed = [];
        for (const rate of rates) {
          const rateIds = [];
          const r0 = wallNow();
          const paced = await openLoop(rate, rateSeconds, () => send(rateIds));
          await bossCompleted(rateIds);
          const outcome = await bossOutcome(rateIds, r0);
          results[mode].fixed.push({ ...outcome, rate, paced, createLatency: summary(paced.latencies) });
        }
      }
      for (const worker of workerProcesses) await stop(worker);
    }
  } finally {
    await boss.stop({ graceful: false, wait: true });
  }
  return results;
}

/** Polls until every job is completed (the time of completion is read from the rows, not from this poll). */
async function bossCompleted(ids) {
  const deadline = Date.now() + COMPLETION_TIMEOUT_MS;
  for (;;) {
    const [{ done }] = await sql(bossUrl, `SELECT count(*)::int AS done FROM pgboss.job WHERE id = ANY($1::uuid[]) AND state = 'completed'`, [ids]);
    if (done === ids.length) return;
    if (Date.now() > deadline) throw new Error(`${ids.length - done} of ${ids.length} pg-boss jobs not completed after ${COMPLETION_TIMEOUT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function bossOutcome(ids, t0) {
  const rows = await sql(
    bossUrl,
    `SELECT extract(epoch FROM created_on) * 1000 AS created, extract(epoch FROM completed_on) * 1000 AS completed
       FROM pgboss.job WHERE id = ANY($1::uuid[])`,
    [ids],
  );
  const lastCompleted = Math.max(...rows.map((row) => Number(row.completed)));
  return {
    perSecond: ids.length / ((lastCompleted - t0) / 1000),
    latencyDb: summary(rows.map((row) => Number(row.completed) - Number(row.created)).sort((a, b) => a - b)),
  };
}

// ---- report ----

const fmt = (n, digits = 0) => (Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : '–');
const ms = (s) => `${fmt(s.p50, 1)} / ${fmt(s.p99, 1)}`;
const cpuLine = (cpu) =>
  Object.entries(cpu)
    .filter(([name]) => name !== 'busy')
    .map(([name, value]) => `${name} ${value.toFixed(2)}`)
    .join(', ') + ` (machine ${(cpu.busy * 100).toFixed(0)} % busy)`;

try {
  await sql(adminUrl, `CREATE DATABASE "${runyardDatabase}"`);
  await sql(adminUrl, `CREATE DATABASE "${bossDatabase}"`);
  console.log(`machine: ${machine()}`);
  console.log(
    `${fmt(runs)} runs/jobs after ${fmt(warmup)} warm-up; ${workers} worker processes × concurrency ${workerConcurrency}; ` +
      `${clientConcurrency} concurrent creators; fixed rates ${rates.join(', ')}/s for ${rateSeconds} s each\n`,
  );
  const runyard = await runyardPhases();
  const boss = await bossPhases();

  console.log('| system | created→completed per s | commit→commit p50 / p99 ms | create p50 / p99 ms |');
  console.log('|---|---:|---:|---:|');
  console.log(`| Runyard: POST /v1/runs → worker → completed (event seen) | ${fmt(runyard.burst.perSecond)} | ${ms(runyard.burst.latencyDb)} | ${ms(runyard.burst.createLatency)} |`);
  console.log(`| pg-boss work(), batchSize ${workerConcurrency}, poll 0.5 s (baseline) | ${fmt(boss.work.burst.perSecond)} | ${ms(boss.work.burst.latencyDb)} | ${ms(boss.work.burst.createLatency)} |`);
  console.log(`| pg-boss fetch/complete loops (no polling while busy) | ${fmt(boss.loop.burst.perSecond)} | ${ms(boss.loop.burst.latencyDb)} | ${ms(boss.loop.burst.createLatency)} |`);
  console.log(
    `\nRunyard: POST sent → completed event received p50 / p99 ${ms(runyard.burst.latencyObserved)} ms; pending (created → claimed) ${ms(runyard.burst.pendingDb)} ms, held by a worker (claimed → completed) ${ms(runyard.burst.heldDb)} ms; ` +
      `by database finished_at ${fmt(runyard.burst.perSecondDb)}/s; ${fmt(runyard.burst.createSeconds, 1)} s to create all`,
  );
  console.log(
    `claiming: interval between a worker's consecutive claims p50 / p99 ${ms(runyard.burst.claiming.interval)} ms; ` +
      `slots in use per worker on average ${fmt(runyard.burst.claiming.slotsInUse, 1)} of ${workerConcurrency}`,
  );
  console.log(`durable and published: runs without all 3 events seen ${runyard.burst.missingEvents}, unpublished outbox rows ${runyard.burst.unpublished}`);
  console.log(`CPU ms per run: ${cpuLine(runyard.burst.cpu)}`);
  console.log(`CPU ms per pg-boss job (work): ${cpuLine(boss.work.burst.cpu)}; (loop): ${cpuLine(boss.loop.burst.cpu)}`);
  const disturbed = [runyard.burst.cpu, boss.loop.burst.cpu].some((cpu) => cpu.others > 1);
  if (disturbed) console.log('WARNING: other processes used the CPU during a measured phase ("others" above); the figures are disturbed, run again on a quiet machine');
  console.log(`ratio Runyard / pg-boss work(): ${(runyard.burst.perSecond / boss.work.burst.perSecond).toFixed(2)}x (aim >= 1.0x)`);
  console.log(`ratio Runyard / pg-boss fetch/complete loops: ${(runyard.burst.perSecond / boss.loop.burst.perSecond).toFixed(2)}x`);

  console.log(`\nfixed arrival rate for ${rateSeconds} s (latency from when each request was due; workers running):`);
  console.log('| system | rate per s | achieved per s | create p50 / p99 / max ms | created→completed p50 / p99 ms |');
  console.log('|---|---:|---:|---:|---:|');
  runyard.fixed.forEach((f, i) => {
    const b = boss.work.fixed[i];
    console.log(
      `| Runyard POST /v1/runs | ${f.rate} | ${fmt(f.paced.perSecond)} | ${ms(f.createLatency)} / ${fmt(f.createLatency.max, 1)} | ` +
        `${ms(f.latencyDb)} (seen by a client: ${ms(f.latencyObserved)}) |`,
    );
    console.log(`| pg-boss send() + work() | ${b.rate} | ${fmt(b.paced.perSecond)} | ${ms(b.createLatency)} / ${fmt(b.createLatency.max, 1)} | ${ms(b.latencyDb)} |`);
  });
  console.log(
    `generator lag at worst: Runyard ${runyard.fixed.map((f) => fmt(f.paced.worstLagMs, 1)).join(', ')} ms, pg-boss ${boss.work.fixed.map((b) => fmt(b.paced.worstLagMs, 1)).join(', ')} ms; ` +
      `Runyard runs without all 3 events ${runyard.fixed.reduce((n, f) => n + f.missingEvents, 0)}, unpublished outbox rows ${runyard.fixed.map((f) => f.unpublished).join(', ')}`,
  );
} finally {
  await cleanup();
}
