import { IsOptional } from 'class-validator';
import { IsLogLevel, IsNatsNamespace, IsNatsUrl, IsPostgresUrl, type LogLevel } from './env-fields.js';

/** What a service's migration job needs: its database only. */
export abstract class ServiceDatabaseEnv {
  @IsPostgresUrl()
  DATABASE_URL!: string;

  @IsLogLevel()
  LOG_LEVEL: LogLevel = 'info';
}

/** A service in distributed mode: its database and NATS. Each service adds its PORT and settings. */
export abstract class ServiceBusEnv extends ServiceDatabaseEnv {
  @IsNatsUrl()
  NATS_URL!: string;

  /** Prefix that separates deployments sharing one NATS (subjects, streams, durables). */
  @IsOptional()
  @IsNatsNamespace()
  NATS_NAMESPACE?: string;
}
