import { EventEmitter } from 'node:events';
import type { messages, PGlite, QueryOptions, Results } from '@electric-sql/pglite';
import { pgParameterSerializers, pgTextParsers, toPgParameters } from './pg-compat.js';
import { quoteIdentifier } from './schema-name.js';
import { sessionGateFor, type SessionGate } from './session-gate.js';

/**
 * A `pg`-shaped driver over one PGlite instance, for TypeORM's `driver` option. TypeORM's postgres
 * driver only uses: `new Pool(options)`, `pool.on('error')`, `pool.connect(cb)` (err, client, release),
 * `pool.end(cb)`, `client.query(text, values)` as a promise and `client.query(text, cb)`, the result's
 * `rows`/`rowCount`/`command`, and `client.on/removeListener`. This module implements those plus the
 * promise forms of pg's API.
 *
 * PGlite is one Postgres session, so every pool over the same instance shares one gate: `connect()`
 * hands the session out exclusively (FIFO) until `release()`. A transaction therefore owns the session,
 * and a rollback undoes exactly its own work. Each pool stands for one data source with its own schema;
 * the session's search_path is switched when it changes hands between pools.
 *
 * The first checkout makes the instance parse results as pg does (see pg-compat.ts), by installing
 * pg's parsers as the instance's own: passing them per query would cost PGlite a merge of several
 * hundred entries on every statement, more than halving throughput.
 */

export interface PglitePoolConfig {
  pglite: PGlite;
  /** The schema unqualified names resolve to for this pool's clients (the service schema). */
  searchPath: string;
  /** How long `connect()` waits for the shared session before failing; 0 waits forever. */
  connectionTimeoutMillis?: number;
}

export interface PgliteField {
  name: string;
  dataTypeID: number;
}

/** The parts of pg's `Result` that callers read. */
export interface PgliteQueryResult {
  command: string;
  /** Rows returned or affected; null for commands that report no count (BEGIN, CREATE, ...), as pg. */
  rowCount: number | null;
  rows: unknown[];
  fields: PgliteField[];
}

/** One statement gives one result; a parameterless multi-statement text gives one per statement, as pg. */
export type PgliteQueryOutcome = PgliteQueryResult | PgliteQueryResult[];

export interface PgliteQueryConfig {
  text: string;
  values?: readonly unknown[];
  rowMode?: 'array';
}

export type QueryCallback = (error: Error | null, result?: PgliteQueryOutcome) => void;
export type ReleaseFn = (error?: Error | boolean) => void;
export type ConnectCallback = (error: Error | undefined, client?: PgliteClient, release?: ReleaseFn) => void;

const TRANSACTION_START = new Set(['BEGIN', 'START']);
// Commands after which the session's search_path may differ from what the gate recorded: explicit
// changes, and rollbacks that can undo a SET made inside a transaction.
const SEARCH_PATH_CHANGERS = new Set(['SET', 'RESET', 'DISCARD', 'ROLLBACK']);
// A bare protocol Sync: the server answers ReadyForQuery with the transaction status (I, T or E).
const SYNC_MESSAGE = new Uint8Array([0x53, 0, 0, 0, 4]);

/** PGlite instances whose parsers have been replaced with pg's. */
const pgCompatibleInstances = new WeakSet<PGlite>();

function toPgResult<Row>(result: Results<Row>): PgliteQueryResult {
  return {
    command: result.command ?? '',
    rowCount: result.rowCount ?? null,
    rows: result.rows,
    fields: result.fields,
  };
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

export class PgliteClient extends EventEmitter {
  private released = false;
  /** Set when this checkout may have left a transaction open (it began one, or a statement failed). */
  private mayHoldTransaction = false;

  constructor(
    private readonly pglite: PGlite,
    private readonly gate: SessionGate,
    private readonly handBack: (client: PgliteClient, reset: boolean) => void,
  ) {
    super();
  }

  /** For the pool at release: whether the session's transaction status needs checking. */
  get mayHoldOpenTransaction(): boolean {
    return this.mayHoldTransaction;
  }

  query(config: string | PgliteQueryConfig, values?: readonly unknown[]): Promise<PgliteQueryOutcome>;
  query(config: string | PgliteQueryConfig, callback: QueryCallback): void;
  query(config: string | PgliteQueryConfig, values: readonly unknown[] | undefined, callback: QueryCallback): void;
  query(
    config: string | PgliteQueryConfig,
    valuesOrCallback?: readonly unknown[] | QueryCallback,
    maybeCallback?: QueryCallback,
  ): Promise<PgliteQueryOutcome> | void {
    const callback = typeof valuesOrCallback === 'function' ? valuesOrCallback : maybeCallback;
    const request: PgliteQueryConfig =
      typeof config === 'string' ? { text: config, values: typeof valuesOrCallback === 'function' ? undefined : valuesOrCallback } : config;
    const outcome = this.execute(request);
    if (!callback) return outcome;
    outcome.then(
      (result) => callback(null, result),
      (error: unknown) => callback(asError(error)),
    );
  }

  /** Gives the session back. `release(error)` also resets it, as pg discards a client released with an error. */
  release(error?: Error | boolean): void {
    if (this.released) throw new Error('Release called on client which has already been released to the pool.');
    this.released = true;
    this.handBack(this, Boolean(error));
  }

  private async execute(request: PgliteQueryConfig): Promise<PgliteQueryOutcome> {
    if (typeof request !== 'object' || typeof request.text !== 'string' || 'submit' in request) {
      // e.g. a pg-query-stream Submittable (TypeORM's stream()): streaming is not supported over PGlite.
      throw new Error('the PGlite driver accepts a query text (and values) only; streaming queries are not supported');
    }
    if (this.released) throw new Error('Client was released to the pool and cannot run queries');
    const options: QueryOptions = {
      serializers: pgParameterSerializers,
      rowMode: request.rowMode === 'array' ? 'array' : 'object',
      onNotice: (notice: messages.NoticeMessage) => this.emit('notice', notice),
    };
    try {
      // Like pg: parameters use the extended protocol (one statement); no parameters use the simple
      // protocol, which accepts several statements and returns a result for each.
      if (request.values && request.values.length > 0) {
        const result = await this.pglite.query(request.text, toPgParameters(request.values), options);
        this.observe([result]);
        return toPgResult(result);
      }
      const results = await this.pglite.exec(request.text, options);
      this.observe(results);
      return results.length === 1 ? toPgResult(results[0]) : results.map(toPgResult);
    } catch (error) {
      // A failed statement may have left a transaction aborted, and a failed multi-statement text
      // may have run a SET before failing: make release check the session and re-set search_path.
      this.mayHoldTransaction = true;
      this.gate.searchPath = undefined;
      throw error;
    }
  }

  private observe(results: readonly Results<unknown>[]): void {
    for (const { command } of results) {
      if (command === undefined) continue;
      if (TRANSACTION_START.has(command)) this.mayHoldTransaction = true;
      if (SEARCH_PATH_CHANGERS.has(command)) this.gate.searchPath = undefined;
    }
  }
}

export class PglitePool extends EventEmitter {
  private readonly pglite: PGlite;
  private readonly gate: SessionGate;
  private readonly searchPath: string;
  private readonly connectionTimeoutMillis: number;
  private ended = false;
  private checkedOut = 0;
  private readonly drained: (() => void)[] = [];

  constructor(config: PglitePoolConfig) {
    super();
    if (!config?.pglite || typeof config.pglite.query !== 'function') {
      throw new Error('PglitePool needs a PGlite instance (`pglite` in the pool config, `extra.pglite` for TypeORM)');
    }
    if (typeof config.searchPath !== 'string' || config.searchPath.length === 0) {
      throw new Error('PglitePool needs the schema its clients use (`searchPath`)');
    }
    this.pglite = config.pglite;
    this.gate = sessionGateFor(config.pglite);
    this.searchPath = config.searchPath;
    this.connectionTimeoutMillis = config.connectionTimeoutMillis ?? 0;
  }

  connect(): Promise<PgliteClient>;
  connect(callback: ConnectCallback): void;
  connect(callback?: ConnectCallback): Promise<PgliteClient> | void {
    const client = this.checkout();
    if (!callback) return client;
    client.then(
      (c) => callback(undefined, c, (error) => c.release(error)),
      (error: unknown) => callback(asError(error)),
    );
  }

  /** One statement on a short checkout, like pg's `pool.query`. */
  async query(text: string, values?: readonly unknown[]): Promise<PgliteQueryOutcome> {
    const client = await this.checkout();
    try {
      return await client.query(text, values);
    } finally {
      client.release();
    }
  }

  /** Stops handing out clients and resolves once this pool's client is back. The PGlite instance stays open (its owner closes it). */
  end(): Promise<void>;
  end(callback: (error?: Error) => void): void;
  end(callback?: (error?: Error) => void): Promise<void> | void {
    this.ended = true;
    const done =
      this.checkedOut === 0 ? Promise.resolve() : new Promise<void>((resolve) => this.drained.push(resolve));
    if (!callback) return done;
    done.then(() => callback(), callback);
  }

  private async checkout(): Promise<PgliteClient> {
    if (this.ended) throw new Error('Cannot use a pool after calling end on the pool');
    await this.pglite.waitReady;
    await this.gate.acquire(this.connectionTimeoutMillis);
    try {
      if (this.ended) throw new Error('Cannot use a pool after calling end on the pool');
      if (!pgCompatibleInstances.has(this.pglite)) await this.installPgParsers();
      if (this.gate.searchPath !== this.searchPath) {
        await this.pglite.exec(`SET search_path TO ${quoteIdentifier(this.searchPath)}`);
        this.gate.searchPath = this.searchPath;
      }
    } catch (error) {
      this.gate.release();
      throw error;
    }
    this.checkedOut += 1;
    return new PgliteClient(this.pglite, this.gate, (client, reset) => void this.giveBack(client, reset));
  }

  /**
   * pg's parsers for every type that exists now, installed once per instance (under the gate). PGlite
   * parses no type created later either (its parsers come from its start-up catalogue), so values of
   * those stay raw text on both targets, as pg leaves them.
   */
  private async installPgParsers(): Promise<void> {
    const { rows } = await this.pglite.query<{ oid: number }>('SELECT oid::int4 AS oid FROM pg_catalog.pg_type');
    Object.assign(this.pglite.parsers, pgTextParsers(rows.map((row) => row.oid)));
    pgCompatibleInstances.add(this.pglite);
  }

  private async giveBack(client: PgliteClient, reset: boolean): Promise<void> {
    try {
      // A transaction left open (forgotten, or released with an error) must not leak into the next
      // holder's statements, where its writes would commit or roll back with theirs.
      if (client.mayHoldOpenTransaction || reset) {
        if ((await this.transactionStatus()) !== 'I') {
          await this.pglite.exec('ROLLBACK');
          this.gate.searchPath = undefined;
          // Released without an error yet inside a transaction: a caller bug worth seeing (TypeORM
          // logs pool errors as warnings). On a server it would poison a pooled connection.
          if (!reset) this.report(new Error('a client was released inside an open transaction; it was rolled back'));
        }
      }
      if (reset) this.gate.searchPath = undefined;
    } catch (error) {
      this.gate.searchPath = undefined;
      this.report(asError(error));
    } finally {
      this.checkedOut -= 1;
      this.gate.release();
      if (this.checkedOut === 0) for (const resolve of this.drained.splice(0)) resolve();
    }
  }

  /** Like pg-pool: problems outside any caller's query go to the pool's 'error' listeners (never thrown). */
  private report(error: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }

  /** I (idle), T (in a transaction) or E (in a failed transaction), from the server itself. */
  private async transactionStatus(): Promise<string> {
    const { messages: replies } = await this.pglite.runExclusive(() => this.pglite.execProtocol(SYNC_MESSAGE));
    const ready = replies.find((message) => message.name === 'readyForQuery') as messages.ReadyForQueryMessage | undefined;
    return ready?.status ?? 'E';
  }
}

/** The module TypeORM loads in place of `pg` (`driver` option); the PGlite instance comes in `extra`. */
export const pglitePgDriver = { Pool: PglitePool } as const;
