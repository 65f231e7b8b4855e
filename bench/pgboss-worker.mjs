// One pg-boss worker process for bench/runs-throughput.mjs: takes jobs from one queue and completes
// them with a no-op handler, `PGBOSS_CONCURRENCY` at a time, until SIGTERM. Prints "ready" once
// working. Two modes:
//
//   work  pg-boss's worker API as its maintainer recommends for concurrency in v10 (teamSize and
//         teamConcurrency were removed): one work() per process with batchSize = concurrency, the
//         batch handled with Promise.allSettled, at the minimum polling interval (0.5 s).
//   loop  not pg-boss's worker API: `PGBOSS_CONCURRENCY` hand-written fetch → handle → complete
//         loops that fetch again at once while there is work (polling only when the queue is empty).
//         The ceiling of what pg-boss's SQL can do here, without work()'s polling cadence.
//
// env: PGBOSS_URL, PGBOSS_QUEUE, PGBOSS_MODE (work | loop), PGBOSS_CONCURRENCY, PGBOSS_POLL_SECONDS
import PgBoss from 'pg-boss';

const queue = process.env.PGBOSS_QUEUE ?? 'bench';
const mode = process.env.PGBOSS_MODE ?? 'work';
const concurrency = Number(process.env.PGBOSS_CONCURRENCY ?? 8);
const pollSeconds = Number(process.env.PGBOSS_POLL_SECONDS ?? 0.5);

// Its own pool (default size 10 ≥ the concurrent queries either mode makes). Schema and queue are
// made by the benchmark before workers start.
const boss = new PgBoss({ connectionString: process.env.PGBOSS_URL, migrate: false });
boss.on('error', (error) => console.error(`pg-boss worker: ${error.message}`));
await boss.start();

const noop = async () => undefined;
let stopping = false;
const loops = [];

if (mode === 'work') {
  await boss.work(queue, { batchSize: concurrency, pollingIntervalSeconds: pollSeconds }, (jobs) => Promise.allSettled(jobs.map(noop)));
} else if (mode === 'loop') {
  for (let i = 0; i < concurrency; i++) {
    loops.push(
      (async () => {
        while (!stopping) {
          const [job] = await boss.fetch(queue);
          if (job === undefined) {
            await new Promise((resolve) => setTimeout(resolve, pollSeconds * 1000));
            continue;
          }
          await noop(job);
          await boss.complete(queue, job.id);
        }
      })(),
    );
  }
} else {
  throw new Error(`PGBOSS_MODE must be work or loop, not ${mode}`);
}
console.log('ready');

process.once('SIGTERM', async () => {
  stopping = true;
  await Promise.all(loops);
  await boss.stop({ graceful: true, wait: true, timeout: 5000 });
  process.exit(0);
});
