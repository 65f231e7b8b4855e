import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { PGlite } from '@electric-sql/pglite';
import { createTestDatabase, uniqueName } from '@runyard/testing';
import type { DataSource } from 'typeorm';
import { createServiceDataSource } from './data-source.js';
import { openEmbeddedPostgres } from './embedded-postgres.js';

/**
 * Code must see the same values on both targets: the same query through a server data source (pg) and
 * an embedded one (PGlite) returns deep-equal rows, for result types and for parameter values alike.
 */

let database: { url: string; drop(): Promise<void> };
let pglite: PGlite;
let server: DataSource;
let embedded: DataSource;

beforeAll(async () => {
  database = await createTestDatabase('persistence_types');
  pglite = await openEmbeddedPostgres();
  const schema = uniqueName('types');
  server = createServiceDataSource({ schema, target: { kind: 'postgres', url: database.url }, entities: [], migrations: [] });
  embedded = createServiceDataSource({ schema, target: { kind: 'embedded', pglite }, entities: [], migrations: [] });
  await Promise.all([server.initialize(), embedded.initialize()]);
}, 120_000);

afterAll(async () => {
  for (const dataSource of [server, embedded]) if (dataSource?.isInitialized) await dataSource.destroy();
  await pglite?.close();
  await database?.drop();
});

async function onBoth(sql: string, parameters?: unknown[]): Promise<[unknown, unknown]> {
  return [await server.query(sql, parameters), await embedded.query(sql, parameters)];
}

describe('values through pg and through PGlite', () => {
  it('parses every common column type the same way', async () => {
    const [fromServer, fromEmbedded] = await onBoth(`
      SELECT 32767::int2 AS int2, 2147483647::int4 AS int4, 9223372036854775807::int8 AS int8, 42::oid AS oid,
             123456789.123456789::numeric AS numeric, 1.5::float4 AS float4, 2.25::float8 AS float8,
             true AS bool, 'text'::text AS text, 'vc'::varchar AS varchar, 'c'::char(3) AS bpchar, 'nm'::name AS name,
             '0190b0a4-7d3e-7c2a-8b1e-2f4a6c8e0a1b'::uuid AS uuid,
             '{"a": [1, "b", null], "n": 1.50}'::json AS json, '{"a": [1, "b", null], "n": 1.50}'::jsonb AS jsonb,
             '2024-02-29'::date AS date, '2024-02-29 12:34:56.789'::timestamp AS timestamp,
             '2024-02-29 12:34:56.789+02'::timestamptz AS timestamptz, '12:34:56'::time AS time,
             '1 day 02:03:04'::interval AS interval, '\\xdeadbeef'::bytea AS bytea, '(1,2)'::point AS point,
             int4range(1, 5) AS int4range,
             ARRAY[1, 2]::int4[] AS int4s, ARRAY[1, 2]::int8[] AS int8s, ARRAY[1.5, 2]::numeric[] AS numerics,
             ARRAY['a', 'b"c', NULL]::text[] AS texts, ARRAY[true, false]::bool[] AS bools,
             ARRAY['{"x": 1}']::jsonb[] AS jsonbs, ARRAY['0190b0a4-7d3e-7c2a-8b1e-2f4a6c8e0a1b']::uuid[] AS uuids,
             ARRAY['2024-02-29 12:34:56+00']::timestamptz[] AS timestamptzs, ARRAY[int4range(1, 2)] AS ranges,
             NULL::int8 AS null_int8, NULL::jsonb AS null_jsonb`);

    expect(fromEmbedded).toEqual(fromServer);
    // And what pg gives is what services are written against:
    expect(fromServer).toEqual([
      expect.objectContaining({ int8: '9223372036854775807', numeric: '123456789.123456789', int4: 2147483647, bool: true, int8s: ['1', '2'] }),
    ]);
  });

  it('sends JavaScript parameter values the same way', async () => {
    const at = new Date('2024-02-29T10:34:56.789Z');
    const parameters = [
      at,
      { a: [1, 'b'], nested: { ok: true } },
      [1, 2, null],
      ['x', 'y "z" \\ w'],
      Buffer.from('deadbeef', 'hex'),
      false,
      2n ** 62n,
      at,
      null,
      '{"k": "v"}',
      '12.50',
      7,
      [[1, 2], [3, 4]],
      'true',
    ];
    const [fromServer, fromEmbedded] = await onBoth(
      `SELECT $1::timestamptz AS at, $2::jsonb AS doc, $3::int4[] AS ints, $4::text[] AS texts, $5::bytea AS bytes,
              $6::bool AS no, $7::int8 AS big, $8::text AS date_as_text, $9::text AS nothing, $10::jsonb AS json_text,
              $11::numeric AS num, $12::int4 AS n, $13::int4[] AS matrix, $14::bool AS yes_text`,
      parameters,
    );

    expect(fromEmbedded).toEqual(fromServer);
    expect(fromServer).toEqual([expect.objectContaining({ at, big: String(2n ** 62n), bytes: Buffer.from('deadbeef', 'hex'), no: false, yes_text: true })]);
  });
});
