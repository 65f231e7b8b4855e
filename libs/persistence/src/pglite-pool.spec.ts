import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import type { PGlite } from '@electric-sql/pglite';
import { openEmbeddedPostgres } from './embedded-postgres.js';
import { PglitePool, type PgliteClient, type PgliteQueryOutcome, type PgliteQueryResult, type ReleaseFn } from './pglite-pool.js';

let pglite: PGlite;

beforeAll(async () => {
  // A private in-memory instance: the schemas below exist only for this file.
  pglite = await openEmbeddedPostgres();
  await pglite.exec(`
    CREATE SCHEMA pool_a; CREATE TABLE pool_a.marks (label text NOT NULL);
    CREATE SCHEMA pool_b; CREATE TABLE pool_b.marks (label text NOT NULL);`);
}, 120_000);

afterAll(async () => {
  await pglite?.close();
});

const checkedOut: PgliteClient[] = [];

/** connect() that the test may release itself; whatever it leaves held is released after it, so one failure cannot stall the next test. */
async function take(pool: PglitePool): Promise<PgliteClient> {
  const client = await pool.connect();
  checkedOut.push(client);
  return client;
}

afterEach(() => {
  for (const client of checkedOut.splice(0)) {
    try {
      client.release();
    } catch {
      // already released by the test
    }
  }
});

function single(outcome: PgliteQueryOutcome): PgliteQueryResult {
  if (Array.isArray(outcome)) throw new Error('expected one result');
  return outcome;
}

async function currentSchema(client: PgliteClient): Promise<unknown> {
  return (single(await client.query('SELECT current_schema() AS schema')).rows[0] as { schema: unknown }).schema;
}

async function count(client: PgliteClient, label: string): Promise<number> {
  return (single(await client.query('SELECT count(*)::int AS n FROM marks WHERE label = $1', [label])).rows[0] as { n: number }).n;
}

describe('PglitePool', () => {
  it('hands the one session to one client at a time, across pools, in the order connect() was called', async () => {
    const poolA = new PglitePool({ pglite, searchPath: 'pool_a' });
    const poolB = new PglitePool({ pglite, searchPath: 'pool_b' });
    const granted: string[] = [];

    const first = await take(poolA);
    const second = take(poolB).then((client) => (granted.push('second'), client));
    const third = take(poolA).then((client) => (granted.push('third'), client));
    // Round trips on the held session give the waiters every chance to (wrongly) get in.
    await first.query('SELECT 1');
    await first.query('SELECT 2');
    expect(granted).toEqual([]);

    first.release();
    const secondClient = await second;
    await secondClient.query('SELECT 1');
    expect(granted).toEqual(['second']);
    secondClient.release();
    (await third).release();
    expect(granted).toEqual(['second', 'third']);
  });

  it('sets search_path to the schema of whichever pool holds the session, even after a client changed it', async () => {
    const poolA = new PglitePool({ pglite, searchPath: 'pool_a' });
    const poolB = new PglitePool({ pglite, searchPath: 'pool_b' });

    const a1 = await take(poolA);
    expect(await currentSchema(a1)).toBe('pool_a');
    await a1.query(`INSERT INTO marks (label) VALUES ('unqualified-a')`);
    a1.release();
    const b1 = await take(poolB);
    expect(await currentSchema(b1)).toBe('pool_b');
    expect(await count(b1, 'unqualified-a')).toBe(0);
    b1.release();

    const a2 = await take(poolA);
    expect(await currentSchema(a2)).toBe('pool_a');
    expect(await count(a2, 'unqualified-a')).toBe(1);
    await a2.query('SET search_path TO pool_b');
    a2.release();
    const a3 = await take(poolA);
    expect(await currentSchema(a3)).toBe('pool_a');
    a3.release();
  });

  it('rolls back a transaction left open at release, so the next holder neither sees nor commits its writes', async () => {
    const pool = new PglitePool({ pglite, searchPath: 'pool_a' });

    const reported: Error[] = [];
    pool.on('error', (error: Error) => reported.push(error));

    const leaky = await take(pool);
    await leaky.query('BEGIN');
    await leaky.query(`INSERT INTO marks (label) VALUES ('leaked')`);
    leaky.release();

    const next = await take(pool);
    expect(await count(next, 'leaked')).toBe(0);
    expect(reported.map((error) => error.message)).toEqual(['a client was released inside an open transaction; it was rolled back']);
    next.release();
    const later = await take(pool);
    expect(await count(later, 'leaked')).toBe(0);
    later.release();
  });

  it('clears a failed transaction left at release, so the next holder can run statements', async () => {
    const pool = new PglitePool({ pglite, searchPath: 'pool_a' });

    const failing = await take(pool);
    await failing.query('START TRANSACTION');
    await expect(failing.query('SELECT * FROM no_such_table')).rejects.toMatchObject({ code: '42P01' });
    failing.release(new Error('gave up'));

    const next = await take(pool);
    expect(single(await next.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    next.release();
  });

  it('returns pg-shaped results: one per statement without parameters, rowCount null for commands without a count', async () => {
    const pool = new PglitePool({ pglite, searchPath: 'pool_b' });
    const client = await take(pool);
    try {
      const inserted = single(await client.query(`INSERT INTO marks (label) VALUES ($1), ($1)`, ['shape']));
      expect(inserted).toMatchObject({ command: 'INSERT', rowCount: 2, rows: [] });
      const updated = single(await client.query(`UPDATE marks SET label = 'shaped' WHERE label = $1 RETURNING label`, ['shape']));
      expect(updated).toMatchObject({ command: 'UPDATE', rowCount: 2, rows: [{ label: 'shaped' }, { label: 'shaped' }] });
      expect(updated.fields).toEqual([{ name: 'label', dataTypeID: 25 }]);

      const several = await client.query(`BEGIN; SELECT 1::int8 AS big; COMMIT`);
      expect(Array.isArray(several)).toBe(true);
      expect((several as PgliteQueryResult[]).map(({ command, rowCount }) => [command, rowCount])).toEqual([
        ['BEGIN', null],
        ['SELECT', 1],
        ['COMMIT', null],
      ]);
      expect((several as PgliteQueryResult[])[1]?.rows).toEqual([{ big: '1' }]);

      const arrays = single(await client.query({ text: 'SELECT $1::int4 AS a, $2::text AS b', values: [1, 'x'], rowMode: 'array' }));
      expect(arrays.rows).toEqual([[1, 'x']]);
      const stream = { text: 'SELECT 1', submit: () => undefined } as unknown as string;
      await expect(client.query(stream)).rejects.toThrow('streaming queries are not supported');
    } finally {
      client.release();
    }
  });

  it('supports pg’s callback forms, which TypeORM uses for connect, query and end', async () => {
    const pool = new PglitePool({ pglite, searchPath: 'pool_a' });
    const { client, release } = await new Promise<{ client: PgliteClient; release: ReleaseFn }>((resolve, reject) =>
      pool.connect((error, connected, done) => (error || !connected || !done ? reject(error ?? new Error('no client')) : resolve({ client: connected, release: done }))),
    );
    const withText = await new Promise<PgliteQueryOutcome | undefined>((resolve, reject) =>
      client.query('SELECT 2::int8 AS two', (error, result) => (error ? reject(error) : resolve(result))),
    );
    expect(single(withText!).rows).toEqual([{ two: '2' }]);
    const withValues = await new Promise<PgliteQueryOutcome | undefined>((resolve, reject) =>
      client.query('SELECT $1::int4 + 1 AS three', [2], (error, result) => (error ? reject(error) : resolve(result))),
    );
    expect(single(withValues!).rows).toEqual([{ three: 3 }]);
    const failure = await new Promise<Error | null>((resolve) => client.query('SELECT * FROM no_such_table', (error) => resolve(error)));
    expect(failure).toMatchObject({ code: '42P01' });

    release();
    await new Promise<void>((resolve, reject) => pool.end((error) => (error ? reject(error) : resolve())));
  });

  it('fails a connect() that waits longer than connectionTimeoutMillis, and keeps serving the others', async () => {
    const holder = new PglitePool({ pglite, searchPath: 'pool_a' });
    const impatient = new PglitePool({ pglite, searchPath: 'pool_b', connectionTimeoutMillis: 50 });

    const held = await take(holder);
    await expect(impatient.connect()).rejects.toThrow('timeout exceeded when trying to connect');
    const waiting = take(holder);
    held.release();
    const next = await waiting;
    next.release();
    const after = await take(impatient);
    expect(await currentSchema(after)).toBe('pool_b');
    after.release();
  });

  it('refuses a second release, and ends only once its client is back', async () => {
    const pool = new PglitePool({ pglite, searchPath: 'pool_a' });
    const client = await take(pool);
    let ended = false;
    const ending = pool.end().then(() => {
      ended = true;
    });
    await client.query('SELECT 1');
    expect(ended).toBe(false);

    client.release();
    expect(() => client.release()).toThrow('already been released');
    await ending;
    expect(ended).toBe(true);
    await expect(client.query('SELECT 1')).rejects.toThrow('released');
    await expect(pool.connect()).rejects.toThrow('after calling end');
  });

  it('needs a PGlite instance and a schema', () => {
    expect(() => new PglitePool({ searchPath: 'pool_a' } as unknown as ConstructorParameters<typeof PglitePool>[0])).toThrow('PGlite instance');
    expect(() => new PglitePool({ pglite, searchPath: '' })).toThrow('searchPath');
  });
});
