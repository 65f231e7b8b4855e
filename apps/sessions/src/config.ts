import { IsPort, ServiceBusEnv, ServiceDatabaseEnv } from '@runyard/config';

/** What the migration job needs: the database only. */
export class SessionsDatabaseEnv extends ServiceDatabaseEnv {}

/** The sessions service in distributed mode. */
export class SessionsEnv extends ServiceBusEnv {
  /** Port of /healthz and /readyz. */
  @IsPort()
  PORT = 8081;
}
