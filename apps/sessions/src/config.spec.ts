import { describe, expect, it } from '@jest/globals';
import { ConfigError, loadConfig } from '@runyard/config';
import { natsServers } from '@runyard/config';
import { SessionsDatabaseEnv, SessionsEnv } from './config.js';

function problemsOf(load: () => unknown): string {
  try {
    load();
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.join('\n');
    throw error;
  }
  throw new Error('configuration was accepted');
}

describe('sessions configuration', () => {
  it('applies defaults and splits the NATS servers', () => {
    const config = loadConfig(SessionsEnv, { DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/runyard', NATS_URL: 'nats://a:4222,nats://b:4222' });
    expect(config.PORT).toBe(8081);
    expect(config.LOG_LEVEL).toBe('info');
    expect(config.NATS_NAMESPACE).toBeUndefined();
    expect(natsServers(config.NATS_URL)).toEqual(['nats://a:4222', 'nats://b:4222']);
  });

  it('lists every missing or malformed variable', () => {
    const problems = problemsOf(() => loadConfig(SessionsEnv, { PORT: '70000', LOG_LEVEL: 'loud', NATS_NAMESPACE: 'bad name' }));
    for (const variable of ['DATABASE_URL', 'NATS_URL', 'PORT', 'LOG_LEVEL', 'NATS_NAMESPACE']) expect(problems).toContain(variable);
  });

  it('asks the migration job for the database only', () => {
    expect(loadConfig(SessionsDatabaseEnv, { DATABASE_URL: 'postgresql://db.internal/runyard' }).DATABASE_URL).toBe('postgresql://db.internal/runyard');
    expect(problemsOf(() => loadConfig(SessionsDatabaseEnv, { DATABASE_URL: 'mysql://db/runyard' }))).toContain('DATABASE_URL');
  });
});
