import type { ParserOptions, SerializerOptions } from '@electric-sql/pglite';
import pg from 'pg';

/**
 * Makes PGlite read and write values exactly as the `pg` driver does, by using pg's own code for both
 * directions instead of re-implementing it: result columns go through pg-types' text parsers (int8 and
 * numeric stay strings, jsonb is parsed, timestamptz becomes a Date, bytea a Buffer, unknown types
 * stay raw text), and query parameters through pg's `prepareValue` (Date → timestamp text with offset,
 * object → JSON, array → Postgres array literal, Buffer → bytes). PGlite's own defaults differ (int8 as
 * number or BigInt, date at UTC midnight, bytea as Uint8Array, arrays of every type parsed), which
 * would make code pass on one target and fail on the other.
 */

type PrepareValue = (value: unknown) => unknown;

// `utils.prepareValue` is what pg's Client applies to every parameter; it is on pg's default export
// but not in its type declarations.
const pgUtils = (pg as unknown as { utils?: { prepareValue?: unknown } }).utils;
if (typeof pgUtils?.prepareValue !== 'function') {
  throw new Error('the installed pg package no longer exposes utils.prepareValue; update pg-compat.ts');
}
const prepareValue = pgUtils.prepareValue as PrepareValue;

/** Parameters as pg would send them: text (or bytes for binary values) or null. */
export function toPgParameters(values: readonly unknown[]): unknown[] {
  return values.map((value) => prepareValue(value));
}

/**
 * Parsers for every type oid in `typeOids` (give it all of pg_type), each taken from pg's global type
 * registry as it is when called, so a `pg.types.setTypeParser` made at start-up applies to both
 * targets. pg returns the raw text for a type it has no parser for, and so will PGlite for every oid
 * listed here, overriding PGlite's own parsers (which also parse array types pg leaves as text, enum
 * arrays among them).
 */
export function pgTextParsers(typeOids: Iterable<number>): ParserOptions {
  const parsers: ParserOptions = {};
  for (const oid of new Set(typeOids)) {
    parsers[oid] = pg.types.getTypeParser(oid, 'text') as (value: string) => unknown;
  }
  return parsers;
}

const BOOL_OID = 16;
const BYTEA_OID = 17;

function asParameterText(value: unknown): string {
  return value instanceof Uint8Array ? `\\x${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex')}` : String(value);
}

/**
 * Parameters are already pg-prepared text, which most PGlite serializers pass through; these two do
 * not (PGlite's boolean serializer rejects text Postgres accepts, its bytea one rejects text), so they
 * hand the text to the server unchanged, as pg does.
 */
export const pgParameterSerializers: SerializerOptions = {
  [BOOL_OID]: asParameterText,
  [BYTEA_OID]: asParameterText,
};
