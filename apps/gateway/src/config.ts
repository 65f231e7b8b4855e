import { Type } from 'class-transformer';
import { IsBootstrapApiKey, IsLogLevel, IsNatsNamespace, IsNatsUrl, IsPort, IsPostgresUrl, IsRedisUrl, type LogLevel } from '@runyard/config';
import { IsInt, IsOptional, IsString, Max, Min, MinLength } from 'class-validator';

/** What the gateway app needs beyond its connections; the same in standalone and distributed mode. */
export interface GatewaySettings {
  /** Largest accepted request body; larger ones get 413. */
  bodyLimitBytes: number;
  /** Requests allowed per principal per window, whichever of its keys it uses (a burst may use the whole window at once). */
  rateLimitPoints: number;
  rateLimitDurationSeconds: number;
  /** How long a bus request may take before the client gets 504. */
  requestTimeoutMs: number;
  /** RUNYARD_BOOTSTRAP_API_KEY: makes this the system key; unset → one is generated on first start. */
  bootstrapApiKey?: string;
  /** Live streams (SSE): a `: ping` comment this often keeps proxies from closing a quiet stream. Default 15 s. */
  streamHeartbeatMs?: number;
  /** Live streams: the `retry:` sent first, how long an EventSource waits before reconnecting. Default 2 s. */
  streamRetryMs?: number;
  /**
   * Live streams: each ends cleanly after this long and the client reconnects from its cursor, so its key
   * is checked again (a revoked key stops receiving within this time). Default 15 min.
   */
  streamMaxLifetimeMs?: number;
  /** Live streams open at once per principal on one gateway replica; one more answers 429. Default 20. */
  streamMaxPerPrincipal?: number;
}

export const DEFAULT_BODY_LIMIT_BYTES = 1024 * 1024;
/** 600 per 10 s: 60 requests/s sustained per principal, and a client may burst through a window's worth. */
export const DEFAULT_RATE_LIMIT_POINTS = 600;
export const DEFAULT_RATE_LIMIT_DURATION_SECONDS = 10;
export const DEFAULT_REQUEST_TIMEOUT_MS = 5000;
export const DEFAULT_STREAM_HEARTBEAT_MS = 15_000;
export const DEFAULT_STREAM_RETRY_MS = 2000;
export const DEFAULT_STREAM_MAX_LIFETIME_MS = 15 * 60_000;
export const DEFAULT_STREAM_MAX_PER_PRINCIPAL = 20;

/** What the migration job needs: the database only. */
export class GatewayDatabaseEnv {
  @IsPostgresUrl()
  DATABASE_URL!: string;

  @IsLogLevel()
  LOG_LEVEL: LogLevel = 'info';
}

/** The distributed gateway's environment, checked at boot (see main.ts). */
export class GatewayEnv extends GatewayDatabaseEnv {
  @IsPort()
  PORT = 8080;

  @IsString()
  @MinLength(1)
  HOST = '0.0.0.0';

  @IsNatsUrl()
  NATS_URL!: string;

  @IsOptional()
  @IsNatsNamespace()
  NATS_NAMESPACE?: string;

  @IsRedisUrl()
  REDIS_URL!: string;

  /** See SystemKeyService. */
  @IsOptional()
  @IsBootstrapApiKey()
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

  @Type(() => Number)
  @IsInt()
  @Min(100)
  @Max(300_000)
  STREAM_HEARTBEAT_MS = DEFAULT_STREAM_HEARTBEAT_MS;

  @Type(() => Number)
  @IsInt()
  @Min(100)
  @Max(300_000)
  STREAM_RETRY_MS = DEFAULT_STREAM_RETRY_MS;

  /** How long one live stream may stay open before the gateway ends it (the client resumes and is re-authenticated). */
  @Type(() => Number)
  @IsInt()
  @Min(1000)
  @Max(24 * 3_600_000)
  STREAM_MAX_LIFETIME_MS = DEFAULT_STREAM_MAX_LIFETIME_MS;

  /** Live streams one principal may hold open at once on this gateway replica. */
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(10_000)
  STREAM_MAX_PER_PRINCIPAL = DEFAULT_STREAM_MAX_PER_PRINCIPAL;
}

export function toGatewaySettings(env: GatewayEnv): GatewaySettings {
  return {
    bodyLimitBytes: env.BODY_LIMIT_BYTES,
    rateLimitPoints: env.RATE_LIMIT_POINTS,
    rateLimitDurationSeconds: env.RATE_LIMIT_DURATION_SECONDS,
    requestTimeoutMs: env.REQUEST_TIMEOUT_MS,
    bootstrapApiKey: env.RUNYARD_BOOTSTRAP_API_KEY,
    streamHeartbeatMs: env.STREAM_HEARTBEAT_MS,
    streamRetryMs: env.STREAM_RETRY_MS,
    streamMaxLifetimeMs: env.STREAM_MAX_LIFETIME_MS,
    streamMaxPerPrincipal: env.STREAM_MAX_PER_PRINCIPAL,
  };
}
