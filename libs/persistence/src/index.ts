export { decodeCursor, encodeCursor } from './cursor.js';
export { createServiceDataSource, type DatabaseTarget, type ServiceDataSourceOptions } from './data-source.js';
export { openEmbeddedPostgres } from './embedded-postgres.js';
export { assertMigrated, hasPendingMigrations, runMigrations } from './migrations.js';
export { rowsToFetch, toPage } from './page.js';
export { pingDatabase } from './ping.js';
export { PgliteClient, PglitePool, pglitePgDriver, type PglitePoolConfig, type PgliteQueryResult } from './pglite-pool.js';
export { assertSchemaName } from './schema-name.js';
