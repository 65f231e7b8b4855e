import { describe, expect, it } from '@jest/globals';
import { Transform, Type } from 'class-transformer';
import { IsBoolean, IsInt, IsString, IsUrl, Max, Min } from 'class-validator';
import { ConfigError, loadConfig, toBoolean } from './load-config.js';

class ExampleEnv {
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(65535)
  PORT = 8080;

  @IsUrl({ require_tld: false, protocols: ['postgres', 'postgresql'] })
  DATABASE_URL!: string;

  @Transform(toBoolean)
  @IsBoolean()
  VERBOSE = false;

  @IsString()
  NAME = 'runyard';
}

describe('loadConfig', () => {
  it('converts, applies defaults and ignores unrelated variables', () => {
    const config = loadConfig(ExampleEnv, { DATABASE_URL: 'postgres://localhost:5432/db', VERBOSE: 'yes', HOME: '/root', PORT: '' });
    expect(config).toBeInstanceOf(ExampleEnv);
    expect(config.PORT).toBe(8080);
    expect(config.VERBOSE).toBe(true);
    expect(config.NAME).toBe('runyard');
  });

  it('lists every problem at once', () => {
    let caught: unknown;
    try {
      loadConfig(ExampleEnv, { PORT: '99999', VERBOSE: 'maybe' });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const problems = (caught as ConfigError).problems.join('\n');
    expect(problems).toMatch(/PORT/);
    expect(problems).toMatch(/DATABASE_URL/);
    expect(problems).toMatch(/VERBOSE/);
  });
});
