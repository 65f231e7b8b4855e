import { describe, expect, it } from '@jest/globals';
import { ConfigError, loadConfig } from '@runyard/config';
import { RunsDatabaseEnv, RunsEnv } from './config.js';

function problemsOf(load: () => unknown): string {
  try {
    load();
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.join('\n');
    throw error;
  }
  throw new Error('configuration was accepted');
}

const REQUIRED = { DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/runyard', NATS_URL: 'nats://a:4222' };

describe('runs configuration', () => {
  it('applies defaults: port 8082, sweep every second, the echo executor', () => {
    const config = loadConfig(RunsEnv, REQUIRED);
    expect(config).toMatchObject({ PORT: 8082, LOG_LEVEL: 'info', LEASE_SWEEP_INTERVAL_MS: 1000, DEFAULT_EXECUTOR: 'echo' });
    expect(loadConfig(RunsEnv, { ...REQUIRED, LEASE_SWEEP_INTERVAL_MS: '250', DEFAULT_EXECUTOR: 'claude-code' })).toMatchObject({
      LEASE_SWEEP_INTERVAL_MS: 250,
      DEFAULT_EXECUTOR: 'claude-code',
    });
  });

  it('lists every missing or malformed variable', () => {
    const problems = problemsOf(() => loadConfig(RunsEnv, { PORT: '70000', LEASE_SWEEP_INTERVAL_MS: '10', DEFAULT_EXECUTOR: 'has spaces' }));
    for (const variable of ['DATABASE_URL', 'NATS_URL', 'PORT', 'LEASE_SWEEP_INTERVAL_MS', 'DEFAULT_EXECUTOR']) expect(problems).toContain(variable);
  });

  it('asks the migration job for the database only', () => {
    expect(loadConfig(RunsDatabaseEnv, { DATABASE_URL: 'postgresql://db.internal/runyard' }).DATABASE_URL).toBe('postgresql://db.internal/runyard');
  });
});
