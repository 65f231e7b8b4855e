import { IsPort, IsRedisUrl, ServiceBusEnv, ServiceDatabaseEnv } from '@runyard/config';
import { Type } from 'class-transformer';
import { IsInt, Max, Min } from 'class-validator';

/** What the migration job needs: the database only. */
export class TranscriptsDatabaseEnv extends ServiceDatabaseEnv {}

/** The transcripts service in distributed mode. */
export class TranscriptsEnv extends ServiceBusEnv {
  /** Port of /healthz and /readyz. */
  @IsPort()
  PORT = 8083;

  /** Holds the tenant log budget, shared by every replica (the gateway's Redis will do). */
  @IsRedisUrl()
  REDIS_URL!: string;

  /** After a run ends, its log takes lines this much longer (batches still in flight), then closes. */
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(3_600_000)
  LOG_CLOSE_GRACE_MS = 10_000;

  /** Lines one run's log may hold. */
  @Type(() => Number)
  @IsInt()
  @Min(10)
  @Max(100_000_000)
  LOG_MAX_LINES_PER_RUN = 100_000;

  /** Bytes of text one run's log may hold. */
  @Type(() => Number)
  @IsInt()
  @Min(1024)
  @Max(64 * 1024 * 1024 * 1024)
  LOG_MAX_BYTES_PER_RUN = 64 * 1024 * 1024;

  /** Bytes of log text one tenant may append per minute, across all replicas. */
  @Type(() => Number)
  @IsInt()
  @Min(1024)
  @Max(1024 * 1024 * 1024 * 1024)
  LOG_TENANT_BYTES_PER_MINUTE = 256 * 1024 * 1024;

  /** Days a transcript segment (retention class `transcripts`) is kept; 0 keeps it (expires_at null). */
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(36_500)
  TRANSCRIPT_RETENTION_DAYS = 90;
}
