// Shared by the benchmarks: process management, percentiles, machine description.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import pg from 'pg';

export function percentile(sortedMs, p) {
  if (sortedMs.length === 0) return NaN;
  const index = Math.min(sortedMs.length - 1, Math.ceil((p / 100) * sortedMs.length) - 1);
  return sortedMs[Math.max(0, index)];
}

export function machine() {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  return `${os.cpus().length} × ${cpu}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB RAM, ${os.type()} ${os.release()}, Node ${process.version}`;
}

export function rssMiB(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /VmRSS:\s+(\d+) kB/.exec(status);
  return match ? Number(match[1]) / 1024 : NaN;
}

/** Starts `node [nodeArgs] <entry>` with env; output goes to the parent's stderr when BENCH_VERBOSE is set. */
export function startNode(entry, env, cwd, nodeArgs = []) {
  const child = spawn(process.execPath, [...nodeArgs, entry], {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', process.env.BENCH_VERBOSE ? 'inherit' : 'pipe', process.env.BENCH_VERBOSE ? 'inherit' : 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk) => (output += chunk));
  child.stderr?.on('data', (chunk) => (output += chunk));
  child.output = () => output;
  return child;
}

export async function stop(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  await new Promise((resolve) => {
    child.once('exit', resolve);
    child.kill('SIGTERM');
  });
}

/** Polls `url` until it answers 200, or fails with the child's output after `timeoutMs`. */
export async function waitReady(url, child, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null) throw new Error(`process exited (${child.exitCode}) before ready:\n${child.output?.()}`);
    try {
      const response = await fetch(url);
      if (response.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${url} not ready after ${timeoutMs} ms:\n${child?.output?.()}`);
}

export function runNode(entry, env, cwd) {
  return new Promise((resolve, reject) => {
    const child = startNode(entry, env, cwd);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${entry} exited ${code}:\n${child.output()}`))));
  });
}

/** CPU seconds (user + system) a process has used so far, from /proc (Linux; clock ticks of 10 ms). */
export function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

// ---- shared by the runs benchmark (bench/runs-throughput.mjs) ----

/** A free TCP port on 127.0.0.1 (the OS picks it; closed again before use). */
export async function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** `adminUrl` pointing at database `name` instead. */
export function databaseUrlFor(adminUrl, name) {
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** One statement on its own connection (CREATE/DROP DATABASE cannot run in a pool's transaction). */
export async function sql(connectionString, text, values) {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    return (await client.query(text, values)).rows;
  } finally {
    await client.end();
  }
}

/** Resolves once the child has printed `text` (a readiness line), or fails with its output. */
export async function waitOutput(child, text, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (!child.output().includes(text)) {
    if (child.exitCode !== null) throw new Error(`process exited (${child.exitCode}) before "${text}":\n${child.output()}`);
    if (Date.now() > deadline) throw new Error(`no "${text}" after ${timeoutMs} ms:\n${child.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * Closed loop: `concurrency` callers each run `task(i)` back to back until `amount` calls were made.
 * Returns the wall time and each call's latency (ms, sorted).
 */
export async function closedLoop(amount, concurrency, task) {
  const latencies = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < amount) {
        const i = next++;
        const t0 = performance.now();
        await task(i);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  return { seconds: (performance.now() - started) / 1000, latencies: latencies.sort((a, b) => a - b) };
}

/**
 * Open loop at a fixed arrival rate: call i is due at start + i / rate whatever earlier calls are
 * doing, and its latency counts from when it was due (no coordinated omission: a stall shows up in
 * the latency of every call that should have gone out during it). Returns latencies (ms, sorted),
 * the achieved rate and how late the generator itself fell behind its schedule at worst.
 */
export async function openLoop(ratePerSecond, seconds, task) {
  const amount = Math.round(ratePerSecond * seconds);
  const interval = 1000 / ratePerSecond;
  const latencies = [];
  const inFlight = [];
  let worstLagMs = 0;
  const started = performance.now();
  for (let i = 0; i < amount; i++) {
    const due = started + i * interval;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    worstLagMs = Math.max(worstLagMs, performance.now() - due);
    inFlight.push(
      task(i).then(() => {
        latencies.push(performance.now() - due);
      }),
    );
  }
  await Promise.all(inFlight);
  const elapsed = (performance.now() - started) / 1000;
  return { amount, perSecond: amount / elapsed, latencies: latencies.sort((a, b) => a - b), worstLagMs };
}

/** p50 / p99 / max of sorted latencies. */
export function summary(sortedMs) {
  return { p50: percentile(sortedMs, 50), p99: percentile(sortedMs, 99), max: sortedMs[sortedMs.length - 1] ?? NaN };
}

/** Pids of processes whose command name is `comm` (e.g. postgres, nats-server), from /proc. */
export function pidsNamed(comm) {
  const pids = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === comm) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** Total CPU seconds of `pids` (processes that vanished count 0; their CPU is lost from the sum). */
export function cpuSecondsOfAll(pids) {
  let total = 0;
  for (const pid of pids) {
    try {
      total += cpuSeconds(pid);
    } catch {
      // exited
    }
  }
  return total;
}

/** Jiffies the whole machine spent busy and in total so far (/proc/stat); diff two for a phase's CPU use. */
export function machineCpu() {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  const idle = fields[3] + (fields[4] ?? 0);
  return { busy: total - idle, total };
}

/** Share of all cores busy between two machineCpu() readings (0–1). */
export function busyShare(before, after) {
  return (after.busy - before.busy) / Math.max(1, after.total - before.total);
}
