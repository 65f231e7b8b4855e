import { Transform, Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min, MinLength } from 'class-validator';

/** Standalone mode's environment: everything in one process, nothing to install but Node. */
export class StandaloneEnv {
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(65535)
  PORT = 8080;

  @IsString()
  HOST = '127.0.0.1';

  /** Embedded Postgres data lives here; a restart keeps everything. */
  @IsString()
  @MinLength(1)
  RUNYARD_DATA_DIR = './.runyard';

  /** The system admin key; when unset, one is generated on first start and printed once. */
  @IsOptional()
  @IsString()
  @MinLength(32)
  @MaxLength(256)
  @Matches(/^\S+$/)
  RUNYARD_BOOTSTRAP_API_KEY?: string;

  @Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? value.toLowerCase() : value))
  @IsIn(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
  LOG_LEVEL = 'info';
}
