import { hostname } from 'node:os';
import { IsLogLevel, IsNatsNamespace, IsNatsUrl, IsPort, type LogLevel } from '@runyard/config';
import { LEASE_TTL_MAX_MS, LEASE_TTL_MIN_MS } from '@runyard/contracts';
import { builtInExecutors } from '@runyard/worker';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min } from 'class-validator';

const EXECUTOR_NAMES = Object.keys(builtInExecutors);
const EXECUTOR_LIST = new RegExp(`^(${EXECUTOR_NAMES.join('|')})(,(${EXECUTOR_NAMES.join('|')}))*$`);

/** The worker app: claims and executes runs with the built-in executors. No database. */
export class WorkerEnv {
  @IsNatsUrl()
  NATS_URL!: string;

  /** Prefix that separates deployments sharing one NATS (subjects, streams, durables). */
  @IsOptional()
  @IsNatsNamespace()
  NATS_NAMESPACE?: string;

  /** Names this worker in claims (a run's `worker_id`) and logs; unique per replica. */
  @IsString()
  @MaxLength(200)
  @Matches(/^[A-Za-z0-9][A-Za-z0-9._:/-]*$/, { message: 'WORKER_ID must start with a letter or digit and hold only letters, digits and . _ : / -' })
  WORKER_ID = `${hostname()}-${process.pid}`;

  /** Runs executed at once by this replica. */
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1000)
  WORKER_CONCURRENCY = 4;

  /** Lease asked for each run; renewed every third of it. A crashed worker's runs are recovered within this (plus the sweep interval). */
  @Type(() => Number)
  @IsInt()
  @Min(LEASE_TTL_MIN_MS)
  @Max(LEASE_TTL_MAX_MS)
  WORKER_LEASE_TTL_MS = 30_000;

  /**
   * The built-in executors to serve, comma-separated: only runs routed to them are claimed. `echo`
   * alone by default: `script` plays scenarios for demos and tests, and any member can route a run to
   * it, so a deployment opts in to it.
   */
  @IsString()
  @Matches(EXECUTOR_LIST, { message: `WORKER_EXECUTORS must be one or more of ${EXECUTOR_NAMES.join(', ')} separated by commas` })
  WORKER_EXECUTORS = 'echo';

  /** On SIGTERM, how long runs in hand may finish before they are given back to other workers. */
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(3_600_000)
  WORKER_DRAIN_MS = 20_000;

  /** How often to look for work when no event announced any (a fallback: pending runs wake workers at once). */
  @Type(() => Number)
  @IsInt()
  @Min(50)
  @Max(600_000)
  WORKER_CLAIM_POLL_MS = 2000;

  /** Port of /healthz and /readyz. */
  @IsPort()
  PORT = 8086;

  @IsLogLevel()
  LOG_LEVEL: LogLevel = 'info';
}

/** The configured executors by name. */
export function selectedExecutors(config: Pick<WorkerEnv, 'WORKER_EXECUTORS'>): Partial<typeof builtInExecutors> {
  const names = new Set(config.WORKER_EXECUTORS.split(',')) as Set<keyof typeof builtInExecutors>;
  return Object.fromEntries([...names].map((name) => [name, builtInExecutors[name]]));
}
