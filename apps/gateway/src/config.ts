import { Transform, Type } from 'class-transformer';
import { ConfigError, loadConfig } from '@runyard/config';
import { IsIn, IsInt, IsOptional, IsString, IsUrl, Matches, Max, MaxLength, Min, MinLength } from 'class-validator';

/** What the gateway app needs beyond its connections; the same in standalone and distributed mode. */
export interface GatewaySettings {
  /** Largest accepted request body; larger ones get 413. */
  bodyLimitBytes: number;
  /** Requests allowed per API key per window (a burst may use the whole window at once). */
  rateLimitPoints: number;
  rateLimitDurationSeconds: number;
  /** How long a bus request may take before the client gets 504. */
  requestTimeoutMs: number;
  /** RUNYARD_BOOTSTRAP_API_KEY: makes this the system key; unset → one is generated on first start. */
  bootstrapApiKey?: string;
}

export const DEFAULT_BODY_LIMIT_BYTES = 1024 * 1024;
/** 600 per 10 s: 60 requests/s sustained per key, and a client may burst through a window's worth. */
export const DEFAULT_RATE_LIMIT_POINTS = 600;
export const DEFAULT_RATE_LIMIT_DURATION_SECONDS = 10;
export const DEFAULT_REQUEST_TIMEOUT_MS = 5000;

const URL_OPTIONS = { require_tld: false, require_protocol: true };

/** What the migration job needs: the database only. */
export class GatewayDatabaseEnv {
  @IsUrl({ ...URL_OPTIONS, protocols: ['postgres', 'postgresql'] })
  DATABASE_URL!: string;

  @Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? value.toLowerCase() : value))
  @IsIn(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
  LOG_LEVEL = 'info';
}

/** The distributed gateway's environment, checked at boot (see main.ts). */
export class GatewayEnv extends GatewayDatabaseEnv {
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(65535)
  PORT = 8080;

  @IsString()
  @MinLength(1)
  HOST = '0.0.0.0';

  /** One or more servers, comma-separated: `nats://nats-0:4222,nats://nats-1:4222`. */
  @IsString()
  @Matches(/^(nats|tls|ws|wss):\/\/[^\s,]+(,(nats|tls|ws|wss):\/\/[^\s,]+)*$/, {
    message: 'NATS_URL must be one or more nats://, tls://, ws:// or wss:// URLs separated by commas',
  })
  NATS_URL!: string;

  /** Prefixes every subject and stream, so several installations can share one NATS. */
  @IsOptional()
  @IsString()
  @Matches(/^[A-Za-z0-9_-]{1,64}$/)
  NATS_NAMESPACE?: string;

  @IsUrl({ ...URL_OPTIONS, protocols: ['redis', 'rediss'] })
  REDIS_URL!: string;

  /** 32-256 visible ASCII characters (or a `ryk_` key); see SystemKeyService. */
  @IsOptional()
  @IsString()
  @MinLength(32)
  @MaxLength(256)
  @Matches(/^[\x21-\x7e]+$/, { message: 'RUNYARD_BOOTSTRAP_API_KEY must be visible ASCII characters without spaces' })
  RUNYARD_BOOTSTRAP_API_KEY?: string;

  @Type(() => Number)
  @IsInt()
  @Min(1024)
  @Max(100 * 1024 * 1024)
  BODY_LIMIT_BYTES = DEFAULT_BODY_LIMIT_BYTES;

  @Type(() => Number)
  @IsInt()
  @Min(1)
  RATE_LIMIT_POINTS = DEFAULT_RATE_LIMIT_POINTS;

  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(3600)
  RATE_LIMIT_DURATION_SECONDS = DEFAULT_RATE_LIMIT_DURATION_SECONDS;

  @Type(() => Number)
  @IsInt()
  @Min(100)
  @Max(120_000)
  REQUEST_TIMEOUT_MS = DEFAULT_REQUEST_TIMEOUT_MS;
}

export function natsServers(env: GatewayEnv): string[] {
  return env.NATS_URL.split(',');
}

export function toGatewaySettings(env: GatewayEnv): GatewaySettings {
  return {
    bodyLimitBytes: env.BODY_LIMIT_BYTES,
    rateLimitPoints: env.RATE_LIMIT_POINTS,
    rateLimitDurationSeconds: env.RATE_LIMIT_DURATION_SECONDS,
    requestTimeoutMs: env.REQUEST_TIMEOUT_MS,
    bootstrapApiKey: env.RUNYARD_BOOTSTRAP_API_KEY,
  };
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
