import { IsBootstrapApiKey, IsLogLevel, IsPort, toBoolean, type LogLevel } from '@runyard/config';
import { Transform, Type } from 'class-transformer';
import { IsBoolean, IsInt, IsOptional, IsString, Max, Min, MinLength } from 'class-validator';

/** Standalone mode's environment: everything in one process, nothing to install but Node. */
export class StandaloneEnv {
  @IsPort()
  PORT = 8080;

  @IsString()
  @MinLength(1)
  HOST = '127.0.0.1';

  /** Embedded Postgres data lives here; a restart keeps everything. */
  @IsString()
  @MinLength(1)
  RUNYARD_DATA_DIR = './.runyard';

  /** The system admin key; when unset, one is generated on first start and printed once. */
  @IsOptional()
  @IsBootstrapApiKey()
  RUNYARD_BOOTSTRAP_API_KEY?: string;

  /** Runs an embedded worker (executors echo and script); `false` leaves runs to outside workers. */
  @Transform(toBoolean)
  @IsBoolean()
  RUNYARD_WORKER = true;

  /** Runs the embedded worker executes at once. */
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1000)
  RUNYARD_WORKER_CONCURRENCY = 4;

  /** Days a transcript segment is kept (its `expires_at`); 0 keeps it. */
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(36_500)
  TRANSCRIPT_RETENTION_DAYS = 90;

  @IsLogLevel()
  LOG_LEVEL: LogLevel = 'info';
}
