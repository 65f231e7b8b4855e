import { hostname } from 'node:os';
import { describe, expect, it } from '@jest/globals';
import { ConfigError, loadConfig } from '@runyard/config';
import { echoExecutor, scriptExecutor } from '@runyard/worker';
import { selectedExecutors, WorkerEnv } from './config.js';

function problemsOf(load: () => unknown): string {
  try {
    load();
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.join('\n');
    throw error;
  }
  throw new Error('configuration was accepted');
}

const REQUIRED = { NATS_URL: 'nats://a:4222' };

describe('worker configuration', () => {
  it('applies defaults: <hostname>-<pid>, 4 at a time, 30 s leases, echo only, port 8086', () => {
    const config = loadConfig(WorkerEnv, REQUIRED);
    expect(config).toMatchObject({
      WORKER_ID: `${hostname()}-${process.pid}`,
      WORKER_CONCURRENCY: 4,
      WORKER_LEASE_TTL_MS: 30_000,
      WORKER_EXECUTORS: 'echo',
      WORKER_DRAIN_MS: 20_000,
      WORKER_CLAIM_POLL_MS: 2000,
      PORT: 8086,
      LOG_LEVEL: 'info',
    });
    expect(selectedExecutors(config)).toEqual({ echo: echoExecutor });
  });

  it('serves `script` only when it is named', () => {
    expect(selectedExecutors(loadConfig(WorkerEnv, { ...REQUIRED, WORKER_EXECUTORS: 'echo,script' }))).toEqual({ echo: echoExecutor, script: scriptExecutor });
  });

  it('takes each setting from the environment', () => {
    const config = loadConfig(WorkerEnv, {
      ...REQUIRED,
      NATS_NAMESPACE: 'team-a',
      WORKER_ID: 'worker-7.pod/a',
      WORKER_CONCURRENCY: '16',
      WORKER_LEASE_TTL_MS: '1500',
      WORKER_EXECUTORS: 'script',
      WORKER_DRAIN_MS: '0',
      PORT: '0',
    });
    expect(config).toMatchObject({ NATS_NAMESPACE: 'team-a', WORKER_ID: 'worker-7.pod/a', WORKER_CONCURRENCY: 16, WORKER_LEASE_TTL_MS: 1500, WORKER_DRAIN_MS: 0, PORT: 0 });
    expect(selectedExecutors(config)).toEqual({ script: scriptExecutor });
  });

  it('lists every missing or malformed variable', () => {
    const problems = problemsOf(() =>
      loadConfig(WorkerEnv, { WORKER_ID: '-bad id', WORKER_CONCURRENCY: '0', WORKER_LEASE_TTL_MS: '50', WORKER_EXECUTORS: 'echo,claude', WORKER_DRAIN_MS: '-1' }),
    );
    for (const variable of ['NATS_URL', 'WORKER_ID', 'WORKER_CONCURRENCY', 'WORKER_LEASE_TTL_MS', 'WORKER_EXECUTORS', 'WORKER_DRAIN_MS']) expect(problems).toContain(variable);
  });
});
