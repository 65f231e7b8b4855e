import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { PGlite } from '@electric-sql/pglite';

/**
 * Opens the embedded Postgres (PGlite) that standalone mode shares between all services, one schema
 * each. With a directory the data persists there (created if missing); without one it lives in memory.
 * An instance is costly (seconds to create, most of a gigabyte): open one per process. The caller owns
 * it and closes it after destroying the data sources over it.
 */
export async function openEmbeddedPostgres(dataDir?: string): Promise<PGlite> {
  if (dataDir === undefined) return PGlite.create();
  const directory = resolve(dataDir);
  await mkdir(directory, { recursive: true });
  return PGlite.create(directory);
}
