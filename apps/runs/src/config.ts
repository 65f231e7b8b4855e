import { IsPort, ServiceBusEnv, ServiceDatabaseEnv } from '@runyard/config';
import { Type } from 'class-transformer';
import { IsInt, IsString, Matches, Max, MaxLength, Min } from 'class-validator';

/** What the migration job needs: the database only. */
export class RunsDatabaseEnv extends ServiceDatabaseEnv {}

/** The runs service in distributed mode. */
export class RunsEnv extends ServiceBusEnv {
  /** Port of /healthz and /readyz. */
  @IsPort()
  PORT = 8082;

  /** How often expired leases and TTLs are swept; a crashed worker's run is recovered within lease TTL + this. */
  @Type(() => Number)
  @IsInt()
  @Min(50)
  @Max(600_000)
  LEASE_SWEEP_INTERVAL_MS = 1000;

  /** How long a worker has to stop a cancelled run before the run is cancelled without it. */
  @Type(() => Number)
  @IsInt()
  @Min(1000)
  @Max(3_600_000)
  CANCEL_GRACE_MS = 30_000;

  /** Executor of runs whose run and session give none (the deployment default route). */
  @IsString()
  @MaxLength(100)
  @Matches(/^[A-Za-z0-9][A-Za-z0-9._:/-]*$/)
  DEFAULT_EXECUTOR = 'echo';

  /** How long a run's event history is kept after its events were published (its outbox is the history). */
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(24 * 365)
  EVENT_HISTORY_RETENTION_HOURS = 7 * 24;
}
