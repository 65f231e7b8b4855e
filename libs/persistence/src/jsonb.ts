import type { QueryDeepPartialEntity } from 'typeorm';

/** A copy as plain JSON, the way jsonb gives it back: no class instances, no undefined fields. */
export function toPlainJson<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/**
 * An entity with jsonb columns as TypeORM's insert/update methods take it. Their deep-partial type
 * maps an `unknown` JSON value to `{}`, which no value of type `unknown` fits, so the columns typed
 * `Record<string, unknown>` need this one cast (repositories only).
 */
export function withJsonbColumns<T>(values: T | Partial<T>): QueryDeepPartialEntity<T> {
  return values as QueryDeepPartialEntity<T>;
}
