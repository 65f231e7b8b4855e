// Benchmark: run log lines ingested through the worker path with durable acknowledgement, beside —
// in the same run, on the same PostgreSQL, into tables of the same shape — a COPY of the same rows
// and a per-line INSERT loop.
//
//   npm run bench:logs
//   env: BENCH_LINES=200000 BENCH_RUNS=16 BENCH_REPLICAS=2 BENCH_LINE_BYTES=100 BENCH_BUFFER_LINES=2000
//        BENCH_INSERT_LINES=20000 BENCH_INSERT_CONCURRENCY=16 BENCH_PROFILE_DIR BENCH_RATE (lines/s; default half the
//        measured throughput) BENCH_RATE_SECONDS=10 DATABASE_URL NATS_URL REDIS_URL
//
// Runyard: BENCH_REPLICAS transcripts service processes (distributed mode: PostgreSQL + NATS). This
// process is the worker: BENCH_RUNS runs log at once, each through the worker library's own `RunLog`
// (what `ctx.log` is: buffered, batches by size/time, one batch in flight per run, retried with the
// same producer batch_seq), over one NATS connection: each batch is stored in the JetStream work queue
// (Bus.submit), taken by a transcripts replica, committed, and replied to. A line counts as
// acknowledged when the reply to its batch came — sent only after the batch committed in PostgreSQL. The runs
// service is not started: this process answers its one question (GetRunLogAccess, asked once per
// run when its log opens) for the bench's runs.
//
// COPY: the same rows, one `COPY … FROM STDIN` (text format) on one connection, through pg's
// protocol support for COPY (pg-copy-streams is not installed; the submittable below is what it does).
// INSERT: one parameterised INSERT per line, autocommit, from a pg.Pool of BENCH_INSERT_CONCURRENCY
// (as pg's docs do it), over BENCH_INSERT_LINES lines (the rate is what matters; all lines would take minutes).
import 'reflect-metadata';
import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import pg from 'pg';
import { ensureBuilt, ensureInstalled, root } from '../scripts/workspace.mjs';
import { busyShare, closedLoop, cpuSecondsOfAll, databaseUrlFor, freePort, machine, machineCpu, pidsNamed, runNode, sql, startNode, stop, summary, waitReady } from './lib.mjs';

const totalLines = Number(process.env.BENCH_LINES ?? 200_000);
const runCount = Number(process.env.BENCH_RUNS ?? 16);
const replicas = Number(process.env.BENCH_REPLICAS ?? 2);
const lineBytes = Number(process.env.BENCH_LINE_BYTES ?? 100);
const bufferLines = Number(process.env.BENCH_BUFFER_LINES ?? 2000);
const insertLines = Number(process.env.BENCH_INSERT_LINES ?? 20_000);
const insertConcurrency = Number(process.env.BENCH_INSERT_CONCURRENCY ?? 16);
const rateSeconds = Number(process.env.BENCH_RATE_SECONDS ?? 10);
const adminUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const natsUrl = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

ensureInstalled();
ensureBuilt();
// Built workspace packages (dist), loaded after the build.
const { AppendLogLines, GetRunLogAccess } = await import('@runyard/contracts');
const { NatsBus } = await import('@runyard/messaging');
const { RunLog, logProducerId } = await import('@runyard/worker');

const benchId = `${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
const database = `runyard_bench_logs_${benchId}`;
const namespace = `bench_${benchId}`;
const databaseUrl = databaseUrlFor(adminUrl, database);
const workerId = `bench-worker-${process.pid}`;

const children = [];
let bus;
let pool;
async function cleanup() {
  await bus?.close().catch(() => undefined);
  for (const child of children.reverse()) await stop(child);
  await pool?.end().catch(() => undefined);
  await sql(adminUrl, `DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`).catch((error) => console.error(`could not drop ${database}: ${error.message}`));
  const admin = await connect({ servers: natsUrl }).catch(() => undefined);
  if (admin) {
    const jsm = await jetstreamManager(admin);
    for await (const stream of jsm.streams.list()) {
      if (stream.config.name.startsWith(namespace)) await jsm.streams.delete(stream.config.name).catch(() => undefined);
    }
    await admin.close();
  }
}

/** CPU seconds so far of the bench process, the transcripts replicas, PostgreSQL and NATS; diff two for a phase. */
function cpuSnapshot() {
  const bench = process.cpuUsage();
  return {
    machine: machineCpu(),
    bench: (bench.user + bench.system) / 1e6,
    transcripts: cpuSecondsOfAll(children.map((child) => child.pid)),
    postgres: cpuSecondsOfAll(pidsNamed('postgres')),
    nats: cpuSecondsOfAll(pidsNamed('nats-server')),
  };
}
/** CPU µs per line of each process group, and how busy the machine was. */
function cpuPerLine(before, after, lines) {
  const perLine = (name) => `${name} ${(((after[name] - before[name]) * 1e6) / lines).toFixed(1)}`;
  return `${['bench', 'transcripts', 'postgres', 'nats'].map(perLine).join(', ')} (machine ${(busyShare(before.machine, after.machine) * 100).toFixed(0)} % busy)`;
}

const fmt = (n, digits = 0) => (Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : '–');
const text = (run, i) => `run ${run} line ${i} `.padEnd(lineBytes, 'x');

// ---- Runyard: the worker path ----

async function startTranscripts() {
  const env = { DATABASE_URL: databaseUrl, NATS_URL: natsUrl, REDIS_URL: redisUrl, NATS_NAMESPACE: namespace, LOG_LEVEL: 'warn' };
  await runNode(join(root, 'apps/transcripts/dist/migrate.js'), env, root);
  for (let i = 0; i < replicas; i++) {
    const port = await freePort();
    // BENCH_PROFILE_DIR: each replica writes a CPU profile there when it stops (open it in Chrome DevTools).
    const profile = process.env.BENCH_PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`] : [];
    const child = startNode(join(root, 'apps/transcripts/dist/main.js'), { ...env, PORT: String(port), LOG_TENANT_BYTES_PER_MINUTE: String(1024 ** 4) }, root, profile);
    children.push(child);
    await waitReady(`http://127.0.0.1:${port}/readyz`, child);
  }
}

/**
 * `runs` runs of one tenant, each logging through its own RunLog. `appendTimes[r][i]` is when line i
 * of run r was appended; a batch's reply acknowledges its lines in order, so the latency of each is
 * the reply's time minus its append time.
 */
function producers(tenantId, runs, linesPerRun) {
  const latencies = [];
  let acknowledged = 0;
  const logs = runs.map((runId) => {
    const appendTimes = new Float64Array(linesPerRun);
    let next = 0;
    const log = new RunLog({
      tenantId,
      runId,
      producerId: logProducerId(workerId, 1),
      maxBufferedLines: bufferLines,
      send: async (payload, options) => {
        const reply = await bus.submit(AppendLogLines, payload, options);
        const now = performance.now();
        for (let k = 0; k < payload.lines.length; k++) latencies.push(now - appendTimes[next++]);
        acknowledged += reply.accepted;
        return reply;
      },
    });
    return { runId, log, appendTimes };
  });
  return { logs, latencies, acknowledged: () => acknowledged };
}

/** As fast as the path takes them: each run appends its lines back to back (held back by the buffer bound). */
async function burst(tenantId) {
  const runs = Array.from({ length: runCount }, () => randomUUID());
  const linesPerRun = Math.ceil(totalLines / runCount);
  const { logs, latencies, acknowledged } = producers(tenantId, runs, linesPerRun);
  const cpuBefore = cpuSnapshot();
  const started = performance.now();
  await Promise.all(
    logs.map(async ({ runId, log, appendTimes }, r) => {
      for (let i = 0; i < linesPerRun; i++) {
        appendTimes[i] = performance.now();
        await log.append(text(r, i), { stream: 'stdout' });
        // Let I/O in now and then, as a real producer between outputs would.
        if (i % 256 === 255) await new Promise((resolve) => setImmediate(resolve));
      }
      await log.flush();
      if (log.refused > 0) throw new Error(`run ${runId}: ${log.refused} lines refused`);
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const cpu = cpuPerLine(cpuBefore, cpuSnapshot(), linesPerRun * runCount);
  return { cpu, runs, lines: linesPerRun * runCount, seconds, perSecond: (linesPerRun * runCount) / seconds, latency: summary(latencies.sort((a, b) => a - b)), acknowledged: acknowledged() };
}

/** A fixed arrival rate spread over the runs: latency at a load the path sustains. */
async function paced(tenantId, rate) {
  const runs = Array.from({ length: runCount }, () => randomUUID());
  const amount = Math.round(rate * rateSeconds);
  const linesPerRun = Math.ceil(amount / runCount);
  const { logs, latencies, acknowledged } = producers(tenantId, runs, linesPerRun);
  const counts = new Array(runCount).fill(0);
  const started = performance.now();
  let sent = 0;
  while (sent < amount) {
    const due = Math.min(amount, Math.floor(((performance.now() - started) / 1000) * rate));
    for (; sent < due; sent++) {
      const r = sent % runCount;
      const i = counts[r]++;
      logs[r].appendTimes[i] = performance.now();
      void logs[r].log.append(text(r, i), { stream: 'stdout' });
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  await Promise.all(logs.map(({ log }) => log.flush()));
  const seconds = (performance.now() - started) / 1000;
  return { runs, lines: amount, perSecond: amount / seconds, latency: summary(latencies.sort((a, b) => a - b)), acknowledged: acknowledged() };
}

/** Lines stored for the tenant, and runs whose seqs are not exactly 1..count. */
async function verify(tenantId) {
  const [{ count }] = await pool.query(`SELECT count(*)::int AS count FROM transcripts.log_lines WHERE tenant_id = $1`, [tenantId]).then((r) => r.rows);
  const gaps = await pool
    .query(`SELECT run_id FROM transcripts.log_lines WHERE tenant_id = $1 GROUP BY run_id HAVING max(seq) <> count(*) OR min(seq) <> 1`, [tenantId])
    .then((r) => r.rows.length);
  return { count, gaps };
}

// ---- baselines ----

/** `COPY … FROM STDIN` as a pg submittable: pg speaks the COPY sub-protocol; this feeds it the data. */
class CopyFrom {
  constructor(text, chunks) {
    this.text = text;
    this.chunks = chunks;
    this.done = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }
  submit(connection) {
    connection.query(this.text);
  }
  handleCopyInResponse(connection) {
    for (const chunk of this.chunks) connection.sendCopyFromChunk(chunk);
    connection.endCopyFrom();
  }
  handleCommandComplete(message) {
    this.rowCount = Number(/(\d+)$/.exec(message.text)?.[1] ?? NaN);
  }
  handleError(error) {
    this.error = error;
  }
  handleReadyForQuery() {
    if (this.error) this.reject(this.error);
    else this.resolve(this.rowCount);
  }
}

const COLUMNS = 'run_id, seq, tenant_id, stream, level, time, text, truncated';
const copyEscape = (value) => value.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r');

/** The rows the worker path stored (same runs, seqs, texts), as COPY text-format chunks of ~1 MiB. */
function copyChunks(tenantId, runs, linesPerRun) {
  const chunks = [];
  let part = [];
  let size = 0;
  const time = new Date().toISOString();
  runs.forEach((runId, r) => {
    for (let i = 0; i < linesPerRun; i++) {
      const row = `${runId}\t${i + 1}\t${tenantId}\tstdout\tinfo\t${time}\t${copyEscape(text(r, i))}\tf\n`;
      part.push(row);
      size += row.length;
      if (size >= 1 << 20) {
        chunks.push(Buffer.from(part.join('')));
        part = [];
        size = 0;
      }
    }
  });
  if (part.length > 0) chunks.push(Buffer.from(part.join('')));
  return chunks;
}

async function copyBaseline(tenantId, runs, linesPerRun) {
  const chunks = copyChunks(tenantId, runs, linesPerRun);
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const started = performance.now();
    const copy = new CopyFrom(`COPY bench_baseline.copy_lines (${COLUMNS}) FROM STDIN`, chunks);
    client.query(copy);
    const rows = await copy.done;
    const seconds = (performance.now() - started) / 1000;
    return { rows, seconds, perSecond: rows / seconds };
  } finally {
    await client.end();
  }
}

async function insertBaseline(tenantId) {
  const runId = randomUUID();
  const time = new Date();
  const loop = await closedLoop(insertLines, insertConcurrency, (i) =>
    pool.query(`INSERT INTO bench_baseline.insert_lines (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, [runId, i + 1, tenantId, 'stdout', 'info', time, text(0, i), false]),
  );
  const [{ count }] = (await pool.query(`SELECT count(*)::int AS count FROM bench_baseline.insert_lines`)).rows;
  return { rows: count, seconds: loop.seconds, perSecond: insertLines / loop.seconds, latency: summary(loop.latencies) };
}

// ---- run ----

try {
  await sql(adminUrl, `CREATE DATABASE "${database}"`);
  console.log(`machine: ${machine()}`);
  console.log(
    `${fmt(totalLines)} lines of ${lineBytes} bytes over ${runCount} runs; ${replicas} transcripts replicas; ` +
      `RunLog buffer bound ${fmt(bufferLines)} lines per run; per-line INSERT over ${fmt(insertLines)} lines × ${insertConcurrency} connections\n`,
  );
  await startTranscripts();
  pool = new pg.Pool({ connectionString: databaseUrl, max: insertConcurrency });
  pool.on('error', () => undefined); // idle connections cut at teardown
  await pool.query(`CREATE SCHEMA bench_baseline`);
  // Same shape as the service's table: columns, checks, primary key.
  await pool.query(`CREATE TABLE bench_baseline.copy_lines (LIKE transcripts.log_lines INCLUDING ALL)`);
  await pool.query(`CREATE TABLE bench_baseline.insert_lines (LIKE transcripts.log_lines INCLUDING ALL)`);

  bus = await NatsBus.connect({ servers: natsUrl, name: workerId, namespace });
  // Stands in for the runs service: every bench run exists, is running, and is the bench owner's.
  const ownerId = randomUUID();
  await bus.handle(GetRunLogAccess, 'bench-runs', (payload) =>
    Promise.resolve({ run_id: payload.run_id, tenant_id: payload.tenant_id, owner_id: ownerId, session_id: null, status: 'running', finished_at: null }),
  );

  // Warm-up: opens connections and JIT paths (a separate tenant, not counted).
  const warmTenant = randomUUID();
  await paced(warmTenant, 2000).catch((error) => {
    throw new Error(`warm-up failed: ${error.message}`);
  });

  const burstTenant = randomUUID();
  const runyard = await burst(burstTenant);
  const stored = await verify(burstTenant);

  const copy = await copyBaseline(burstTenant, runyard.runs, runyard.lines / runCount);
  const insert = await insertBaseline(burstTenant);

  const rate = Number(process.env.BENCH_RATE ?? Math.round(runyard.perSecond / 2));
  const pacedTenant = randomUUID();
  const steady = await paced(pacedTenant, rate);
  const storedPaced = await verify(pacedTenant);

  const ms = (s) => `${fmt(s.p50, 1)} / ${fmt(s.p99, 1)}`;
  console.log('| path | lines | lines per s | append→ack p50 / p99 ms |');
  console.log('|---|---:|---:|---:|');
  console.log(`| Runyard: RunLog (ctx.log) → JetStream work queue → transcripts → PostgreSQL commit → ack | ${fmt(runyard.lines)} | ${fmt(runyard.perSecond)} | ${ms(runyard.latency)} |`);
  console.log(`| COPY … FROM STDIN, one connection (baseline) | ${fmt(copy.rows)} | ${fmt(copy.perSecond)} | – (one statement: ${fmt(copy.seconds * 1000, 0)} ms) |`);
  console.log(`| INSERT per line, autocommit, pool of ${insertConcurrency} (baseline) | ${fmt(insert.rows)} | ${fmt(insert.perSecond)} | ${ms(insert.latency)} |`);
  console.log(`\nratio Runyard / COPY: ${(runyard.perSecond / copy.perSecond).toFixed(2)}x (aim >= 0.5x)`);
  console.log(`ratio Runyard / per-line INSERT: ${(runyard.perSecond / insert.perSecond).toFixed(1)}x (aim >= 10x)`);
  console.log(
    `durable: ${fmt(runyard.acknowledged)} lines acknowledged, ${fmt(stored.count)} in PostgreSQL (${stored.count === runyard.acknowledged ? 'equal' : 'DIFFERENT'}); ` +
      `runs with a seq gap ${stored.gaps}`,
  );
  console.log(`CPU µs per line, worker path: ${runyard.cpu}`);
  console.log(
    `\nfixed rate ${fmt(rate)} lines/s for ${rateSeconds} s: achieved ${fmt(steady.perSecond)}/s, append→ack p50 / p99 ${ms(steady.latency)} ms, max ${fmt(steady.latency.max, 1)} ms; ` +
      `${fmt(steady.acknowledged)} acknowledged, ${fmt(storedPaced.count)} stored (${storedPaced.count === steady.acknowledged ? 'equal' : 'DIFFERENT'}), runs with a seq gap ${storedPaced.gaps}`,
  );
  if (stored.count !== runyard.acknowledged || storedPaced.count !== steady.acknowledged || stored.gaps + storedPaced.gaps > 0) process.exitCode = 1;
} finally {
  await cleanup();
}
