import { MigrationExecutor, type DataSource, type QueryRunner } from 'typeorm';
import { assertSchemaName, quoteIdentifier } from './schema-name.js';

/** The service schema of a data source made by `createServiceDataSource`. */
function serviceSchema(dataSource: DataSource): string {
  const { type } = dataSource.options;
  const schema = type === 'postgres' ? dataSource.options.schema : undefined;
  if (schema === undefined) throw new Error('expected a postgres data source with a schema (see createServiceDataSource)');
  return assertSchemaName(schema);
}

async function initialised(dataSource: DataSource): Promise<DataSource> {
  return dataSource.isInitialized ? dataSource : dataSource.initialize();
}

// One advisory lock per schema for the whole database: replicas booting at once (or a migration Job
// racing an app) take turns, and the second finds nothing left to run.
const LOCK_SQL = `SELECT pg_advisory_lock(hashtextextended('runyard.migrations.' || $1, 0))`;
const UNLOCK_SQL = `SELECT pg_advisory_unlock(hashtextextended('runyard.migrations.' || $1, 0))`;

/**
 * Creates the service schema if needed and runs its pending migrations in order, each in its own
 * transaction (a migration may opt out with `transaction = false`), on one connection that holds the
 * schema's migration lock. Initialises the data source if needed. Returns the names of the migrations run.
 */
export async function runMigrations(dataSource: DataSource): Promise<string[]> {
  const schema = serviceSchema(dataSource);
  await initialised(dataSource);
  const queryRunner: QueryRunner = dataSource.createQueryRunner('master');
  try {
    await queryRunner.query(LOCK_SQL, [schema]);
    try {
      await queryRunner.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdentifier(schema)}`);
      const executor = new MigrationExecutor(dataSource, queryRunner);
      executor.transaction = 'each';
      const executed = await executor.executePendingMigrations();
      return executed.map((migration) => migration.name);
    } finally {
      await queryRunner.query(UNLOCK_SQL, [schema]);
    }
  } finally {
    await queryRunner.release();
  }
}

async function pendingMigrationNames(dataSource: DataSource): Promise<string[]> {
  await initialised(dataSource);
  const pending = await new MigrationExecutor(dataSource).getPendingMigrations();
  return pending.map((migration) => migration.name);
}

/** Whether the data source's migrations include some its schema has not run yet (read-only check). */
export async function hasPendingMigrations(dataSource: DataSource): Promise<boolean> {
  return (await pendingMigrationNames(dataSource)).length > 0;
}

/**
 * Throws when the schema is behind the code's migrations, naming the command that migrates it. Apps
 * call this at boot in distributed mode, where migrations run as their own step (a Kubernetes Job).
 */
export async function assertMigrated(dataSource: DataSource): Promise<void> {
  const schema = serviceSchema(dataSource);
  const pending = await pendingMigrationNames(dataSource);
  if (pending.length > 0) {
    throw new Error(
      `database schema "${schema}" has ${pending.length} pending migration(s) (${pending.join(', ')}): run \`npm run migrate:${schema}\` first`,
    );
  }
}
