import { IsLogLevel, IsNatsNamespace, IsNatsUrl, IsPort, IsPostgresUrl, type LogLevel } from '@runyard/config';
import { IsOptional } from 'class-validator';

/** What the migration job needs: the database only. */
export class SessionsDatabaseEnv {
  @IsPostgresUrl()
  DATABASE_URL!: string;

  @IsLogLevel()
  LOG_LEVEL: LogLevel = 'info';
}

/** The sessions service in distributed mode. */
export class SessionsEnv extends SessionsDatabaseEnv {
  @IsNatsUrl()
  NATS_URL!: string;

  /** Prefix that separates deployments sharing one NATS (subjects, streams, durables). */
  @IsOptional()
  @IsNatsNamespace()
  NATS_NAMESPACE?: string;

  /** Port of /healthz and /readyz. */
  @IsPort()
  PORT = 8081;
}
