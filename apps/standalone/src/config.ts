import { IsBootstrapApiKey, IsLogLevel, IsPort, type LogLevel } from '@runyard/config';
import { IsOptional, IsString, MinLength } from 'class-validator';

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

  @IsLogLevel()
  LOG_LEVEL: LogLevel = 'info';
}
