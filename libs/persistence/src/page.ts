import { DEFAULT_PAGE_LIMIT, type Page } from '@runyard/contracts';

/**
 * Most bytes of JSON one page may carry. Replies travel as single NATS messages (1 MiB by default),
 * and rows can be large (run input, event envelopes), so a page is cut short of its limit when its
 * rows would not fit; `next_cursor` then continues after the last row kept.
 */
export const PAGE_MAX_BYTES = 768 * 1024;

/** The number of rows to fetch for a page: one more than asked, to know whether another page follows. */
export function rowsToFetch(limit: number | undefined): number {
  return (limit ?? DEFAULT_PAGE_LIMIT) + 1;
}

/**
 * Cuts the extra row off (and whatever exceeds `maxBytes`, keeping at least one row) and points
 * `next_cursor` at the last row kept; null on the last page.
 */
export function toPage<R, V>(rows: R[], limit: number | undefined, view: (row: R) => V, cursorOf: (row: R) => string, maxBytes = PAGE_MAX_BYTES): Page<V> {
  const candidates = rows.slice(0, limit ?? DEFAULT_PAGE_LIMIT);
  const data: V[] = [];
  let bytes = 0;
  for (const row of candidates) {
    const viewed = view(row);
    bytes += Buffer.byteLength(JSON.stringify(viewed) ?? '', 'utf8');
    if (data.length > 0 && bytes > maxBytes) break;
    data.push(viewed);
  }
  const last = candidates[data.length - 1];
  const more = rows.length > data.length;
  return { data, next_cursor: more && last !== undefined ? cursorOf(last) : null };
}
