import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { PGlite } from '@electric-sql/pglite';
import { createServiceDataSource } from './data-source.js';
import { openEmbeddedPostgres } from './embedded-postgres.js';
import { contractEntities, contractMigrations, describeServiceDataSourceContract } from './service-data-source.contract.js';

let pglite: PGlite;

beforeAll(async () => {
  pglite = await openEmbeddedPostgres();
}, 120_000);

afterAll(async () => {
  await pglite?.close();
});

describeServiceDataSourceContract('embedded PGlite', () => ({ kind: 'embedded', pglite }));

describe('createServiceDataSource', () => {
  it.each(['Sessions', 'my-service', '1runs', 'pg_runs', 'runs; DROP TABLE x', '', 'a'.repeat(64)])('refuses the schema name %j', (schema) => {
    expect(() =>
      createServiceDataSource({ schema, target: { kind: 'embedded', pglite }, entities: contractEntities, migrations: contractMigrations }),
    ).toThrow('invalid schema name');
  });

  it('configures a server data source for its schema: search_path, migrations table, pool, no implicit schema changes', () => {
    const dataSource = createServiceDataSource({
      schema: 'runs',
      target: { kind: 'postgres', url: 'postgres://runyard@db.invalid:5432/runyard' },
      entities: contractEntities,
      migrations: contractMigrations,
    });

    expect(dataSource.isInitialized).toBe(false);
    expect(dataSource.options).toMatchObject({
      type: 'postgres',
      url: 'postgres://runyard@db.invalid:5432/runyard',
      schema: 'runs',
      migrationsTableName: 'migrations',
      migrationsTransactionMode: 'each',
      migrationsRun: false,
      synchronize: false,
      installExtensions: false,
      poolSize: 10,
      applicationName: 'runyard-runs',
      extra: { options: '-c search_path=runs' },
    });
    const sized = createServiceDataSource({
      schema: 'runs',
      target: { kind: 'postgres', url: 'postgres://runyard@db.invalid:5432/runyard', poolMax: 3 },
      entities: contractEntities,
      migrations: contractMigrations,
    });
    expect(sized.options.poolSize).toBe(3);
  });
});
