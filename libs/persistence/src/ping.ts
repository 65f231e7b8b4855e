import type { DataSource } from 'typeorm';

/** Readiness check: resolves when the database answers a query through this data source's pool, throws otherwise. */
export async function pingDatabase(dataSource: DataSource): Promise<void> {
  if (!dataSource.isInitialized) throw new Error('database not connected (data source not initialised)');
  const rows: unknown = await dataSource.query('SELECT 1 AS ok');
  if (!Array.isArray(rows) || (rows[0] as { ok?: unknown } | undefined)?.ok !== 1) {
    throw new Error('database answered SELECT 1 unexpectedly');
  }
}
