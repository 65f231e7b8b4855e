/**
 * A service schema name goes into SQL (search_path, CREATE SCHEMA) and into the `migrate:<schema>`
 * command name, so only plain lower-case identifiers are accepted: no quoting rules to get wrong, and
 * the same name whether or not Postgres folds it. `pg_` is reserved by Postgres for system schemas.
 */
const PLAIN_IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

export function assertSchemaName(schema: string): string {
  if (!PLAIN_IDENTIFIER.test(schema) || schema.startsWith('pg_')) {
    throw new Error(
      `invalid schema name ${JSON.stringify(schema)}: use a plain lower-case identifier (a-z, 0-9, _; at most 63 characters; not starting with a digit or pg_)`,
    );
  }
  return schema;
}

/** Quotes an identifier for SQL text (doubles embedded quotes). */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
