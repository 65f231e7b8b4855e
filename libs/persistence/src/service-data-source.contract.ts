import { afterEach, describe, expect, it } from '@jest/globals';
import { uniqueName } from '@runyard/testing';
import { Column, Entity, PrimaryColumn, QueryFailedError, type DataSource, type MigrationInterface, type QueryRunner } from 'typeorm';
import { v7 as uuidv7 } from 'uuid';
import { createServiceDataSource, type DatabaseTarget, type ServiceDataSourceOptions } from './data-source.js';
import { assertMigrated, hasPendingMigrations, runMigrations } from './migrations.js';
import { pingDatabase } from './ping.js';

/**
 * What a service may rely on from its data source, whatever the target: the same assertions run on
 * the embedded PGlite (unit tier) and on a real PostgreSQL server (integration tier).
 */

@Entity({ name: 'items' })
export class ItemEntity {
  @PrimaryColumn('uuid')
  id!: string;

  @Column('text')
  label!: string;
}

export interface Payload {
  nested: { list: (number | string | boolean | null)[] };
  ratio: number;
  label: string;
}

@Entity({ name: 'typed_values' })
export class TypedValueEntity {
  @PrimaryColumn('uuid')
  id!: string;

  @Column('integer')
  count!: number;

  @Column('bigint')
  total!: string;

  @Column('numeric', { precision: 12, scale: 2 })
  amount!: string;

  @Column('boolean')
  flag!: boolean;

  @Column('jsonb')
  payload!: Payload;

  @Column('timestamptz', { name: 'created_at' })
  createdAt!: Date;

  @Column('text', { nullable: true })
  note!: string | null;
}

// Unqualified names on purpose: the data source's search_path must put them in its own schema.
// Not idempotent on purpose (no IF NOT EXISTS, a unique seed): running one twice fails.
export class CreateItems1700000000001 implements MigrationInterface {
  name = 'CreateItems1700000000001';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE TABLE items (id uuid PRIMARY KEY, label text NOT NULL UNIQUE)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE items`);
  }
}

export class CreateTypedValues1700000000002 implements MigrationInterface {
  name = 'CreateTypedValues1700000000002';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE typed_values (
        id uuid PRIMARY KEY,
        count integer NOT NULL,
        total bigint NOT NULL,
        amount numeric(12, 2) NOT NULL,
        flag boolean NOT NULL,
        payload jsonb NOT NULL,
        created_at timestamptz NOT NULL,
        note text NULL
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE typed_values`);
  }
}

export class SeedItems1700000000003 implements MigrationInterface {
  name = 'SeedItems1700000000003';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`INSERT INTO items (id, label) VALUES ($1, 'seed')`, [uuidv7()]);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DELETE FROM items WHERE label = 'seed'`);
  }
}

export class BreakHalfway1700000000004 implements MigrationInterface {
  name = 'BreakHalfway1700000000004';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE TABLE half_done (id integer)`);
    await queryRunner.query(`SELECT * FROM no_such_table`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE half_done`);
  }
}

export const contractMigrations = [CreateItems1700000000001, CreateTypedValues1700000000002, SeedItems1700000000003];
export const contractMigrationNames = ['CreateItems1700000000001', 'CreateTypedValues1700000000002', 'SeedItems1700000000003'];
export const contractEntities = [ItemEntity, TypedValueEntity];

async function labelsIn(dataSource: DataSource, schema: string): Promise<string[]> {
  // Schema-qualified on purpose: checks where rows really are, whatever the search_path.
  const rows: { label: string }[] = await dataSource.query(`SELECT label FROM "${schema}".items WHERE label <> 'seed' ORDER BY label`);
  return rows.map((row) => row.label);
}

export function describeServiceDataSourceContract(targetName: string, target: () => DatabaseTarget): void {
  describe(`service data sources on ${targetName}`, () => {
    const opened: DataSource[] = [];

    const open = (schema: string, migrations: ServiceDataSourceOptions['migrations'] = contractMigrations): DataSource => {
      const dataSource = createServiceDataSource({ schema, target: target(), entities: contractEntities, migrations });
      opened.push(dataSource);
      return dataSource;
    };
    const migrated = async (prefix: string): Promise<{ dataSource: DataSource; schema: string }> => {
      const schema = uniqueName(prefix);
      const dataSource = open(schema);
      await runMigrations(dataSource);
      return { dataSource, schema };
    };

    afterEach(async () => {
      for (const dataSource of opened.splice(0)) if (dataSource.isInitialized) await dataSource.destroy();
    });

    it('runs each data source’s migrations in its own schema, so the same unqualified table never collides', async () => {
      const schemaA = uniqueName('svc_a');
      const schemaB = uniqueName('svc_b');
      const a = open(schemaA);
      const b = open(schemaB);

      expect(await runMigrations(a)).toEqual(contractMigrationNames);
      expect(await runMigrations(b)).toEqual(contractMigrationNames);

      await a.query(`INSERT INTO items (id, label) VALUES ($1, 'raw-a')`, [uuidv7()]);
      await b.query(`INSERT INTO items (id, label) VALUES ($1, 'raw-b')`, [uuidv7()]);
      await a.getRepository(ItemEntity).insert({ id: uuidv7(), label: 'repo-a' });
      await b.getRepository(ItemEntity).insert({ id: uuidv7(), label: 'repo-b' });

      expect(await labelsIn(a, schemaA)).toEqual(['raw-a', 'repo-a']);
      expect(await labelsIn(a, schemaB)).toEqual(['raw-b', 'repo-b']);
      for (const schema of [schemaA, schemaB]) {
        const recorded: { name: string }[] = await a.query(`SELECT name FROM "${schema}".migrations ORDER BY id`);
        expect(recorded.map((row) => row.name)).toEqual(contractMigrationNames);
      }
    });

    it('runs only what is pending: nothing on a second run, then a newly added migration', async () => {
      const schema = uniqueName('svc_pending');
      const first = open(schema, [CreateItems1700000000001]);
      expect(await runMigrations(first)).toEqual(['CreateItems1700000000001']);
      expect(await runMigrations(first)).toEqual([]);
      expect(await hasPendingMigrations(first)).toBe(false);

      const upgraded = open(schema);
      expect(await hasPendingMigrations(upgraded)).toBe(true);
      expect(await runMigrations(upgraded)).toEqual(['CreateTypedValues1700000000002', 'SeedItems1700000000003']);
      expect(await hasPendingMigrations(upgraded)).toBe(false);
    });

    it('assertMigrated names the command to run until the schema is migrated, then passes', async () => {
      const schema = uniqueName('svc_assert');
      const dataSource = open(schema);

      await expect(assertMigrated(dataSource)).rejects.toThrow(`npm run migrate:${schema}`);
      await expect(assertMigrated(dataSource)).rejects.toThrow('CreateItems1700000000001');
      await runMigrations(dataSource);
      await expect(assertMigrated(dataSource)).resolves.toBeUndefined();
    });

    it('runs each migration in its own transaction: a failing one leaves no trace, the ones before it stay', async () => {
      const schema = uniqueName('svc_broken');
      const broken = open(schema, [CreateItems1700000000001, BreakHalfway1700000000004]);

      await expect(runMigrations(broken)).rejects.toThrow('no_such_table');

      const recorded: { name: string }[] = await broken.query(`SELECT name FROM "${schema}".migrations ORDER BY id`);
      expect(recorded.map((row) => row.name)).toEqual(['CreateItems1700000000001']);
      const tables: { table_name: string }[] = await broken.query(
        `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name`,
        [schema],
      );
      expect(tables.map((row) => row.table_name)).toEqual(['items', 'migrations']);
      // The failed run gave the schema's migration lock back: another run proceeds.
      expect(await runMigrations(open(schema, [CreateItems1700000000001]))).toEqual([]);
    });

    it('runs each migration once when two data sources migrate the same schema at the same time', async () => {
      const schema = uniqueName('svc_race');
      const first = open(schema);
      const second = open(schema);

      const [ranByFirst, ranBySecond] = await Promise.all([runMigrations(first), runMigrations(second)]);

      expect([...ranByFirst, ...ranBySecond].sort()).toEqual(contractMigrationNames);
      const recorded: { name: string }[] = await first.query(`SELECT name FROM "${schema}".migrations ORDER BY id`);
      expect(recorded.map((row) => row.name)).toEqual(contractMigrationNames);
      const seeds: { n: number }[] = await first.query(`SELECT count(*)::int AS n FROM "${schema}".items WHERE label = 'seed'`);
      expect(seeds[0]?.n).toBe(1);
    });

    it('commits exactly the transactions that succeed when 20 run at once, and nothing of the others', async () => {
      const { dataSource, schema } = await migrated('svc_tx');

      const outcomes = await Promise.allSettled(
        Array.from({ length: 20 }, (_, i) =>
          dataSource.transaction(async (manager) => {
            await manager.getRepository(ItemEntity).insert({ id: uuidv7(), label: `tx-${String(i).padStart(2, '0')}-1` });
            // A second round trip inside the transaction gives the others every chance to interleave.
            await manager.query(`INSERT INTO items (id, label) VALUES ($1, $2)`, [uuidv7(), `tx-${String(i).padStart(2, '0')}-2`]);
            if (i % 2 === 1) throw new Error(`abort ${i}`);
          }),
        ),
      );

      expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(10);
      const committed = Array.from({ length: 20 }, (_, i) => i)
        .filter((i) => i % 2 === 0)
        .flatMap((i) => [`tx-${String(i).padStart(2, '0')}-1`, `tx-${String(i).padStart(2, '0')}-2`]);
      expect(await labelsIn(dataSource, schema)).toEqual(committed);
    });

    it('keeps a transaction on one schema and concurrent queries on another each on their own schema', async () => {
      const { dataSource: a, schema: schemaA } = await migrated('svc_ia');
      const { dataSource: b, schema: schemaB } = await migrated('svc_ib');

      let bWork: Promise<unknown[]> | undefined;
      const schemaSeenInTransaction = await a.transaction(async (manager) => {
        await manager.query(`INSERT INTO items (id, label) VALUES ($1, 'a-1')`, [uuidv7()]);
        // Started mid-transaction and not awaited inside it: b must neither join a's transaction nor
        // see a's search_path (on PGlite it waits for the session; on a server it has its own connection).
        bWork = Promise.all([
          b.query(`INSERT INTO items (id, label) VALUES ($1, 'b-1')`, [uuidv7()]),
          b.query(`SELECT current_schema() AS schema`),
          b.getRepository(ItemEntity).insert({ id: uuidv7(), label: 'b-2' }),
        ]);
        await manager.query(`INSERT INTO items (id, label) VALUES ($1, 'a-2')`, [uuidv7()]);
        const [{ schema }] = await manager.query<{ schema: string }[]>(`SELECT current_schema() AS schema`);
        return schema;
      });
      const [, schemaSeenByB] = (await bWork) as [unknown, { schema: string }[], unknown];

      expect(schemaSeenInTransaction).toBe(schemaA);
      expect(schemaSeenByB[0]?.schema).toBe(schemaB);
      expect(await labelsIn(a, schemaA)).toEqual(['a-1', 'a-2']);
      expect(await labelsIn(a, schemaB)).toEqual(['b-1', 'b-2']);
    });

    it('round-trips entity values with the types pg gives (int8 and numeric as strings, jsonb, Date, uuid, boolean)', async () => {
      const { dataSource } = await migrated('svc_types');
      const repository = dataSource.getRepository(TypedValueEntity);
      const createdAt = new Date('2024-05-06T07:08:09.123Z');
      const saved: TypedValueEntity = {
        id: uuidv7(),
        count: 42,
        total: '9007199254740993', // 2^53 + 1: not representable as a JS number
        amount: '12345.67',
        flag: false,
        payload: { nested: { list: [1, 'two', null, true] }, ratio: 1.5, label: 'é "quoted" \\ back' },
        createdAt,
        note: null,
      };
      await repository.insert(saved);

      const loaded = await repository.findOneByOrFail({ id: saved.id });

      expect(loaded).toEqual(saved);
      expect(typeof loaded.id).toBe('string');
      expect(typeof loaded.count).toBe('number');
      expect(typeof loaded.total).toBe('string');
      expect(typeof loaded.amount).toBe('string');
      expect(loaded.flag).toBe(false);
      expect(loaded.createdAt).toBeInstanceOf(Date);
      expect(loaded.createdAt.getTime()).toBe(createdAt.getTime());
    });

    it('parses raw results and serialises parameters like pg', async () => {
      const { dataSource } = await migrated('svc_raw');
      const at = new Date('2024-02-29T10:34:56.789Z');
      const id = uuidv7();

      const [row] = await dataSource.query<Record<string, unknown>[]>(
        `SELECT $1::int8 AS big, $2::numeric AS num, $3::jsonb AS doc, $4::timestamptz AS at, $5::uuid AS id,
                $6::boolean AS yes, $7::text AS label, $8::int4 AS small, $9::int8[] AS bigs, $10::text AS missing,
                ARRAY[1, 2]::int8[] AS literal_bigs, 7::int8 * 3 AS product`,
        ['9223372036854775807', '1.50', { a: [1, 'b'] }, at, id, true, 'text', 7, [1, 2], null],
      );

      expect(row).toEqual({
        big: '9223372036854775807',
        num: '1.50',
        doc: { a: [1, 'b'] },
        at,
        id,
        yes: true,
        label: 'text',
        small: 7,
        bigs: ['1', '2'],
        missing: null,
        literal_bigs: ['1', '2'],
        product: '21',
      });

      // pg's own conversions, which code written against pg relies on (or must work around):
      const [converted] = await dataSource.query<Record<string, unknown>[]>(`SELECT $1::text AS date_text, $2::text AS array_text, $3::text AS object_text`, [
        at,
        [1, 'two', null],
        { k: 'v' },
      ]);
      expect(converted?.date_text).toMatch(/^2024-02-2\dT\d\d:\d\d:56\.789[+-]\d\d:\d\d$/); // local time with offset, never 'Z'
      expect(converted?.array_text).toBe('{"1","two",NULL}');
      expect(converted?.object_text).toBe('{"k":"v"}');
      // Parameter text is parsed by the server, not by the driver: what Postgres accepts is accepted.
      expect(await dataSource.query(`SELECT $1::boolean AS yes, $2::bytea AS bytes`, ['tr', '\\x0102'])).toEqual([
        { yes: true, bytes: Buffer.from([1, 2]) },
      ]);
      await expect(dataSource.query(`SELECT $1::boolean AS b`, ['maybe'])).rejects.toMatchObject({ driverError: { code: '22P02' } });
      // An array parameter is a Postgres array, so a JSON array must be passed stringified.
      await expect(dataSource.query(`SELECT $1::jsonb AS doc`, [[1, 2]])).rejects.toMatchObject({ driverError: { code: '22P02' } });
      expect(await dataSource.query(`SELECT $1::jsonb AS doc`, [JSON.stringify([1, 2])])).toEqual([{ doc: [1, 2] }]);
    });

    it('reports affected rows and constraint violations the way TypeORM expects from pg', async () => {
      const { dataSource } = await migrated('svc_affected');
      const repository = dataSource.getRepository(ItemEntity);
      await repository.insert([
        { id: uuidv7(), label: 'x-1' },
        { id: uuidv7(), label: 'x-2' },
        { id: uuidv7(), label: 'y-1' },
      ]);

      const updated = await dataSource
        .createQueryBuilder()
        .update(ItemEntity)
        .set({ label: () => `label || '!'` })
        .where(`label LIKE 'x-%'`)
        .execute();
      expect(updated.affected).toBe(2);
      expect((await repository.delete({ label: 'y-1' })).affected).toBe(1);

      const duplicate = repository.insert({ id: uuidv7(), label: 'x-1!' });
      await expect(duplicate).rejects.toBeInstanceOf(QueryFailedError);
      await expect(duplicate).rejects.toMatchObject({ driverError: { code: '23505' } });
    });

    it('pings an initialised data source and refuses one that is not connected', async () => {
      const { dataSource } = await migrated('svc_ping');
      await expect(pingDatabase(dataSource)).resolves.toBeUndefined();
      await dataSource.destroy();
      await expect(pingDatabase(dataSource)).rejects.toThrow('not connected');
    });
  });
}
