import { DomainError, ErrorCode } from '@runyard/contracts';
import { decodeCursor, encodeCursor } from '@runyard/persistence';
import { validate as isUuid } from 'uuid';

/** The position after which a newest-first page continues: the sort key of the last row returned. */
export interface KeysetPosition {
  createdAt: Date;
  id: string;
}

/** Cursor wire shape: `c` = created_at (RFC 3339), `i` = id. Opaque to clients. */
export function keysetCursor(row: KeysetPosition): string {
  return encodeCursor({ c: row.createdAt.toISOString(), i: row.id });
}

export function decodeKeysetCursor(cursor: string | undefined): KeysetPosition | undefined {
  if (cursor === undefined) return undefined;
  const { c, i } = decodeCursor<{ c: string; i: string }>(cursor, { c: 'string', i: 'string' });
  const createdAt = new Date(c);
  if (Number.isNaN(createdAt.getTime()) || !isUuid(i)) {
    throw new DomainError(ErrorCode.INVALID_CURSOR, 'cursor is not one this API returned');
  }
  return { createdAt, id: i };
}
