// Benchmark: POST /v1/sessions through the distributed stack (gateway + sessions processes on
// PostgreSQL, NATS and Redis) beside a raw `pg` insert of the same rows through a pool, at the same
// concurrency, in the same run. Also: standalone mode's start time and resident memory.
//
//   npm run bench               (env: BENCH_CONCURRENCY=32 BENCH_REQUESTS=20000 DATABASE_URL NATS_URL REDIS_URL)
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import pg from 'pg';
import { v7 as uuidv7 } from 'uuid';
import { ensureBuilt, ensureInstalled, root } from '../scripts/workspace.mjs';
import { cpuSeconds, machine, percentile, rssMiB, runNode, startNode, stop, waitReady } from './lib.mjs';

const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 32);
const requests = Number(process.env.BENCH_REQUESTS ?? 20000);
const warmup = Math.min(2000, Math.ceil(requests / 10));
const adminUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const natsUrl = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

ensureInstalled();
ensureBuilt();

const runId = `${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
const database = `runyard_bench_${runId}`;
const namespace = `bench_${runId}`;
const databaseUrl = (() => {
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  return url.toString();
})();

async function admin(sql) {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

const children = [];
async function cleanup() {
  for (const child of children.reverse()) await stop(child);
  await admin(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`).catch(() => undefined);
  const nc = await connect({ servers: natsUrl }).catch(() => undefined);
  if (nc) {
    const jsm = await jetstreamManager(nc);
    for (const name of [`${namespace}_events`, `${namespace}_work`]) await jsm.streams.delete(name).catch(() => undefined);
    await nc.close();
  }
}

/** The full stack: gateway and one sessions replica as separate processes, as in production. */
async function benchFullStack() {
  const systemKey = `ryk_sys_${randomBytes(24).toString('base64url')}`;
  const env = { DATABASE_URL: databaseUrl, NATS_URL: natsUrl, NATS_NAMESPACE: namespace, REDIS_URL: redisUrl, LOG_LEVEL: 'warn' };
  await runNode(join(root, 'apps/gateway/dist/migrate.js'), env, root);
  await runNode(join(root, 'apps/sessions/dist/migrate.js'), env, root);
  const sessions = startNode(join(root, 'apps/sessions/dist/main.js'), { ...env, PORT: '18081' }, root);
  children.push(sessions);
  await waitReady('http://127.0.0.1:18081/readyz', sessions);
  const gateway = startNode(
    join(root, 'apps/gateway/dist/main.js'),
    // The rate limit is raised so it measures the stack, not the limiter's refusals.
    { ...env, PORT: '18080', HOST: '127.0.0.1', RUNYARD_BOOTSTRAP_API_KEY: systemKey, RATE_LIMIT_POINTS: '100000000', RATE_LIMIT_DURATION_SECONDS: '1' },
    root,
  );
  children.push(gateway);
  await waitReady('http://127.0.0.1:18080/readyz', gateway);

  const tenant = await fetch('http://127.0.0.1:18080/v1/tenants', {
    method: 'POST',
    headers: { authorization: `Bearer ${systemKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'Bench' }),
  }).then((r) => r.json());
  const key = tenant.api_key.key;

  const fire = (amount) =>
    autocannon({
      url: 'http://127.0.0.1:18080/v1/sessions',
      method: 'POST',
      connections: concurrency,
      amount,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ title: 'bench session', metadata: { source: 'bench' } }),
    });
  await fire(warmup);
  const cpuBefore = { gateway: cpuSeconds(gateway.pid), sessions: cpuSeconds(sessions.pid) };
  const result = await fire(requests);
  const cpuMsPerRequest = {
    gateway: ((cpuSeconds(gateway.pid) - cpuBefore.gateway) * 1000) / requests,
    sessions: ((cpuSeconds(sessions.pid) - cpuBefore.sessions) * 1000) / requests,
  };
  const failed = result.non2xx + result.errors + result.timeouts;
  if (failed > 0) throw new Error(`full stack: ${failed} requests failed (non-2xx ${result.non2xx}, errors ${result.errors})`);
  return {
    perSecond: result.requests.total / (result.duration),
    p50: result.latency.p50,
    p99: result.latency.p99,
    cpuMsPerRequest,
    tenantId: tenant.tenant.id,
    ownerId: tenant.principal.id,
  };
}

/** The baseline: the same rows inserted with `pg` directly, a pool sized to the concurrency. */
async function benchRawInsert(tenantId, ownerId) {
  // node-postgres docs: one pooled client per concurrent query; a named (prepared) statement for a
  // query run many times. The table is a copy of sessions.sessions with the same indexes.
  const pool = new pg.Pool({ connectionString: databaseUrl, max: concurrency });
  await pool.query('CREATE SCHEMA IF NOT EXISTS bench_raw');
  await pool.query('CREATE TABLE bench_raw.sessions (LIKE sessions.sessions INCLUDING ALL)');
  const insert = async () => {
    const now = new Date();
    await pool.query({
      name: 'insert-session',
      text: `INSERT INTO bench_raw.sessions (id, tenant_id, owner_id, parent_session_id, title, status, metadata, route_policy, reply_targets, last_message_seq, created_at, updated_at, archived_at)
             VALUES ($1, $2, $3, NULL, $4, 'active', $5, NULL, '[]', 0, $6, $6, NULL)`,
      values: [uuidv7(), tenantId, ownerId, 'bench session', { source: 'bench' }, now],
    });
  };
  const run = async (amount) => {
    const latencies = [];
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next++ < amount) {
          const t0 = performance.now();
          await insert();
          latencies.push(performance.now() - t0);
        }
      }),
    );
    return { seconds: (performance.now() - started) / 1000, latencies: latencies.sort((a, b) => a - b) };
  };
  await run(warmup);
  const { seconds, latencies } = await run(requests);
  await pool.end();
  return { perSecond: requests / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

/** Standalone mode: time to ready and RSS, first start (new data dir) and restart. */
async function benchStandalone() {
  const dataDir = mkdtempSync(join(tmpdir(), 'runyard-bench-'));
  const measure = async () => {
    const started = performance.now();
    const child = startNode(join(root, 'apps/standalone/dist/main.js'), { PORT: '18090', RUNYARD_DATA_DIR: dataDir, LOG_LEVEL: 'warn' }, root);
    children.push(child);
    await waitReady('http://127.0.0.1:18090/readyz', child);
    const ms = performance.now() - started;
    const rss = rssMiB(child.pid);
    await stop(child);
    return { ms, rss };
  };
  try {
    return { first: await measure(), restart: await measure() };
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const fmt = (n, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
try {
  await admin(`CREATE DATABASE "${database}"`);
  console.log(`machine: ${machine()}`);
  console.log(`concurrency ${concurrency}, ${fmt(requests)} requests after ${fmt(warmup)} warm-up\n`);
  const stack = await benchFullStack();
  const raw = await benchRawInsert(stack.tenantId, stack.ownerId);
  const standalone = await benchStandalone();
  const rows = [
    ['POST /v1/sessions (gateway → NATS → sessions → PG + outbox)', stack],
    ['raw pg INSERT, pool of ' + concurrency + ' (baseline)', raw],
  ];
  console.log('| path | per second | p50 ms | p99 ms |');
  console.log('|---|---:|---:|---:|');
  for (const [name, r] of rows) console.log(`| ${name} | ${fmt(r.perSecond)} | ${fmt(r.p50, 2)} | ${fmt(r.p99, 2)} |`);
  console.log(`\nCPU per request: gateway ${stack.cpuMsPerRequest.gateway.toFixed(2)} ms, sessions ${stack.cpuMsPerRequest.sessions.toFixed(2)} ms`);
  console.log(`ratio full stack / raw insert: ${(stack.perSecond / raw.perSecond).toFixed(2)}x (aim >= 0.35x)`);
  console.log(`standalone start to ready: first start ${fmt(standalone.first.ms)} ms (RSS ${fmt(standalone.first.rss)} MiB), restart ${fmt(standalone.restart.ms)} ms (RSS ${fmt(standalone.restart.rss)} MiB)`);
} finally {
  await cleanup();
}
