import { DEFAULT_PAGE_LIMIT, DomainError, ErrorCode, type Page } from '@runyard/contracts';
import { decodeCursor, encodeCursor } from '@runyard/persistence';
import { validate as isUuid } from 'uuid';

/** The position after which a newest-first page continues: the sort key of the last row returned. */
export interface KeysetPosition {
  createdAt: Date;
  id: string;
}

/** Cursor wire shape: `c` = created_at (RFC 3339), `i` = id. Opaque to clients. */
export function decodeKeysetCursor(cursor: string | undefined): KeysetPosition | undefined {
  if (cursor === undefined) return undefined;
  const { c, i } = decodeCursor<{ c: string; i: string }>(cursor, { c: 'string', i: 'string' });
  const createdAt = new Date(c);
  if (Number.isNaN(createdAt.getTime()) || !isUuid(i)) {
    throw new DomainError(ErrorCode.INVALID_CURSOR, 'cursor is not one this API returned');
  }
  return { createdAt, id: i };
}

export function pageLimit(limit: number | undefined): number {
  return limit ?? DEFAULT_PAGE_LIMIT;
}

/**
 * Repositories fetch `limit + 1` rows so a next page is announced only when one exists; this cuts the
 * extra row off and builds the cursor from the last row kept.
 */
export function toPage<R extends KeysetPosition, V>(rows: R[], limit: number, toView: (row: R) => V): Page<V> {
  const kept = rows.slice(0, limit);
  const last = kept.at(-1);
  const next = rows.length > limit && last ? encodeCursor({ c: last.createdAt.toISOString(), i: last.id }) : null;
  return { data: kept.map(toView), next_cursor: next };
}
