import { QueryFailedError } from 'typeorm';

/**
 * Whether `error` is PostgreSQL's unique violation (23505) of `constraint` (an index or constraint
 * name). PGlite may leave the constraint name out; then any unique violation matches.
 */
export function isUniqueViolationOf(error: unknown, constraint: string): boolean {
  if (!(error instanceof QueryFailedError)) return false;
  const driverError = error.driverError as { code?: unknown; constraint?: unknown } | undefined;
  return driverError?.code === '23505' && (driverError.constraint === undefined || driverError.constraint === constraint);
}
