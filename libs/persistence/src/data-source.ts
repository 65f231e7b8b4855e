import type { PGlite } from '@electric-sql/pglite';
import { DataSource, type DataSourceOptions, type LoggerOptions } from 'typeorm';
import { pglitePgDriver, type PglitePoolConfig } from './pglite-pool.js';
import { assertSchemaName } from './schema-name.js';

/** Where a service's schema lives: a PostgreSQL server (distributed) or the shared embedded PGlite (standalone). */
export type DatabaseTarget = { kind: 'postgres'; url: string; poolMax?: number } | { kind: 'embedded'; pglite: PGlite };

type PostgresOptions = Extract<DataSourceOptions, { type: 'postgres' }>;

export interface ServiceDataSourceOptions {
  /** The Postgres schema the service owns; holds its tables and its `migrations` table. */
  schema: string;
  target: DatabaseTarget;
  entities: NonNullable<PostgresOptions['entities']>;
  migrations: NonNullable<PostgresOptions['migrations']>;
  logging?: LoggerOptions;
}

const DEFAULT_POOL_MAX = 10;
/** Connecting (or waiting for a pooled connection) longer than this fails instead of hanging. */
const POSTGRES_CONNECT_TIMEOUT_MS = 10_000;
/** The embedded session is shared: a wait this long means a stuck transaction or a self-deadlock. */
const EMBEDDED_CHECKOUT_TIMEOUT_MS = 30_000;

/**
 * One service's data source (not initialised): its own schema, migrations table and search_path, the
 * same entities and migrations on either target. Schema changes happen only through migrations (run
 * explicitly with `runMigrations`): no synchronize, no migrations at connect, no extension installs.
 */
export function createServiceDataSource(options: ServiceDataSourceOptions): DataSource {
  const schema = assertSchemaName(options.schema);
  const common = {
    type: 'postgres',
    schema,
    entities: options.entities,
    migrations: options.migrations,
    migrationsTableName: 'migrations',
    migrationsTransactionMode: 'each',
    migrationsRun: false,
    synchronize: false,
    installExtensions: false,
    applicationName: `runyard-${schema}`,
    logging: options.logging ?? false,
  } as const satisfies Partial<PostgresOptions>;

  const { target } = options;
  switch (target.kind) {
    case 'postgres':
      return new DataSource({
        ...common,
        url: target.url,
        poolSize: target.poolMax ?? DEFAULT_POOL_MAX,
        connectTimeoutMS: POSTGRES_CONNECT_TIMEOUT_MS,
        // TypeORM qualifies the names it generates with `schema`, but raw-SQL migrations and queries
        // use unqualified names: the connection's search_path makes those land in the service schema.
        extra: { options: `-c search_path=${schema}` },
      });
    case 'embedded': {
      const pool: PglitePoolConfig = { pglite: target.pglite, searchPath: schema };
      return new DataSource({
        ...common,
        driver: pglitePgDriver,
        connectTimeoutMS: EMBEDDED_CHECKOUT_TIMEOUT_MS,
        extra: pool,
      });
    }
  }
}
