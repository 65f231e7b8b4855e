import { ConfigError, loadConfig } from '@runyard/config';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, IsUrl, Matches, Max, Min } from 'class-validator';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** What the migration job needs: the database only. */
export class SessionsDatabaseEnv {
  @IsUrl({ require_tld: false, protocols: ['postgres', 'postgresql'] })
  DATABASE_URL!: string;

  @IsIn(LOG_LEVELS)
  LOG_LEVEL: LogLevel = 'info';
}

/** The sessions service in distributed mode. */
export class SessionsEnv extends SessionsDatabaseEnv {
  /** One or more servers, comma-separated: `nats://nats-0:4222,nats://nats-1:4222`. */
  @IsString()
  @Matches(/^(nats|tls|ws|wss):\/\/[^\s,]+(,(nats|tls|ws|wss):\/\/[^\s,]+)*$/, {
    message: 'NATS_URL must be one or more nats://, tls://, ws:// or wss:// URLs separated by commas',
  })
  NATS_URL!: string;

  /** Prefix that separates deployments sharing one NATS (subjects, streams, durables). */
  @IsOptional()
  @Matches(/^[A-Za-z0-9_-]{1,64}$/, { message: 'NATS_NAMESPACE must be 1-64 letters, digits, _ or -' })
  NATS_NAMESPACE?: string;

  /** Port of /healthz and /readyz. */
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(65535)
  PORT = 8081;
}

export function natsServers(config: SessionsEnv): string[] {
  return config.NATS_URL.split(',');
}

/** For entry points: the typed configuration, or the list of problems on stderr and exit code 1. */
export function loadConfigOrExit<T extends object>(schema: new () => T): T {
  try {
    return loadConfig(schema);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }
}
