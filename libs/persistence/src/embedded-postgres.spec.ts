import { afterEach, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import { v7 as uuidv7 } from 'uuid';
import { createServiceDataSource } from './data-source.js';
import { openEmbeddedPostgres } from './embedded-postgres.js';
import { assertMigrated, runMigrations } from './migrations.js';
import { contractEntities, contractMigrations, ItemEntity } from './service-data-source.contract.js';

const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function open(dataDir: string): Promise<PGlite> {
  const pglite = await openEmbeddedPostgres(dataDir);
  cleanups.push(async () => {
    if (!pglite.closed) await pglite.close();
  });
  return pglite;
}

describe('openEmbeddedPostgres', () => {
  it('keeps schemas, migrations and rows in a data directory it creates, across a reopen', async () => {
    const root = await mkdtemp(join(tmpdir(), 'runyard-pglite-'));
    cleanups.push(() => rm(root, { recursive: true, force: true }));
    const dataDir = join(root, 'nested', 'pg');
    const id = uuidv7();

    const first = await open(dataDir);
    const writer = createServiceDataSource({ schema: 'keep', target: { kind: 'embedded', pglite: first }, entities: contractEntities, migrations: contractMigrations });
    await runMigrations(writer);
    await writer.getRepository(ItemEntity).insert({ id, label: 'kept' });
    // A type whose array pg leaves as text; PGlite would parse it once it knows it at start-up.
    await writer.query(`CREATE TYPE mood AS ENUM ('calm', 'busy')`);
    await writer.destroy();
    await first.close();

    const reopened = await open(dataDir);
    const reader = createServiceDataSource({ schema: 'keep', target: { kind: 'embedded', pglite: reopened }, entities: contractEntities, migrations: contractMigrations });
    await expect(assertMigrated(reader)).resolves.toBeUndefined();
    expect(await runMigrations(reader)).toEqual([]);
    expect(await reader.getRepository(ItemEntity).findOneBy({ id })).toEqual({ id, label: 'kept' });
    expect(await reader.query(`SELECT ARRAY['calm', 'busy']::mood[] AS moods`)).toEqual([{ moods: '{calm,busy}' }]);
    await reader.destroy();
  }, 120_000);
});
