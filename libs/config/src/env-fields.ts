import { Transform, Type } from 'class-transformer';
import { IsIn, IsInt, IsString, IsUrl, Matches, Max, Min } from 'class-validator';

/**
 * Decorators for the variables every app shares, so each app's env schema says what it needs
 * without repeating how those variables are checked.
 */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

function compose(...decorators: PropertyDecorator[]): PropertyDecorator {
  return (target, property) => {
    for (const decorator of decorators) decorator(target, property);
  };
}

/** `LOG_LEVEL`: a pino level, case-insensitive. */
export function IsLogLevel(): PropertyDecorator {
  return compose(
    Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? value.toLowerCase() : value)),
    IsIn(LOG_LEVELS),
  );
}

/** A TCP port; `0` lets the OS choose (tests). */
export function IsPort(): PropertyDecorator {
  return compose(Type(() => Number), IsInt(), Min(0), Max(65535));
}

export function IsPostgresUrl(): PropertyDecorator {
  return IsUrl({ require_tld: false, require_protocol: true, protocols: ['postgres', 'postgresql'] });
}

export function IsRedisUrl(): PropertyDecorator {
  return IsUrl({ require_tld: false, require_protocol: true, protocols: ['redis', 'rediss'] });
}

/** `NATS_URL`: one or more servers, comma-separated: `nats://nats-0:4222,nats://nats-1:4222`. */
export function IsNatsUrl(): PropertyDecorator {
  return compose(
    IsString(),
    Matches(/^(nats|tls|ws|wss):\/\/[^\s,]+(,(nats|tls|ws|wss):\/\/[^\s,]+)*$/, {
      message: 'NATS_URL must be one or more nats://, tls://, ws:// or wss:// URLs separated by commas',
    }),
  );
}

/** `NATS_NAMESPACE`: prefixes subjects and streams so deployments can share one NATS. */
export function IsNatsNamespace(): PropertyDecorator {
  return Matches(/^[A-Za-z0-9_-]{1,64}$/, { message: 'NATS_NAMESPACE must be 1-64 letters, digits, _ or -' });
}

export function natsServers(natsUrl: string): string[] {
  return natsUrl.split(',');
}

/** `RUNYARD_BOOTSTRAP_API_KEY`: 32-256 visible ASCII characters (or a `ryk_` key). */
export function IsBootstrapApiKey(): PropertyDecorator {
  return compose(
    IsString(),
    Matches(/^[\x21-\x7e]{32,256}$/, { message: 'RUNYARD_BOOTSTRAP_API_KEY must be 32-256 visible ASCII characters without spaces' }),
  );
}
