import { DEFAULT_PAGE_LIMIT, type Page } from '@runyard/contracts';

/** The number of rows to fetch for a page: one more than asked, to know whether another page follows. */
export function rowsToFetch(limit: number | undefined): number {
  return (limit ?? DEFAULT_PAGE_LIMIT) + 1;
}

/** Cuts the extra row off and points `next_cursor` at the last row kept (null on the last page). */
export function toPage<R, V>(rows: R[], limit: number | undefined, view: (row: R) => V, cursorOf: (row: R) => string): Page<V> {
  const kept = rows.slice(0, limit ?? DEFAULT_PAGE_LIMIT);
  const last = kept.at(-1);
  return { data: kept.map(view), next_cursor: rows.length > kept.length && last !== undefined ? cursorOf(last) : null };
}
