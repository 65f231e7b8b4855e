import { DomainError, ErrorCode } from '@runyard/contracts';
import { validate as isUuid } from 'uuid';

/**
 * Opaque keyset-pagination cursors: base64url JSON of the sort key of the last row returned. Opaque
 * to clients (they pass back what they got); a malformed one is a clear `invalid_cursor` error.
 */
export function encodeCursor(key: Record<string, string | number>): string {
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');
}

export function decodeCursor<K extends Record<string, string | number>>(cursor: string, shape: { [P in keyof K]: 'string' | 'number' }): K {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new DomainError(ErrorCode.INVALID_CURSOR, 'cursor is not one this API returned');
  }
  if (parsed === null || typeof parsed !== 'object') throw new DomainError(ErrorCode.INVALID_CURSOR, 'cursor is not one this API returned');
  for (const [field, type] of Object.entries(shape)) {
    if (typeof (parsed as Record<string, unknown>)[field] !== type) {
      throw new DomainError(ErrorCode.INVALID_CURSOR, 'cursor is not one this API returned');
    }
  }
  return parsed as K;
}

/** The cursor of a list ordered by a UUID id: `{ id }`. */
export function encodeIdCursor(id: string): string {
  return encodeCursor({ id });
}

export function decodeIdCursor(cursor: string): string {
  const { id } = decodeCursor<{ id: string }>(cursor, { id: 'string' });
  if (!isUuid(id)) throw new DomainError(ErrorCode.INVALID_CURSOR, 'cursor is not one this API returned');
  return id;
}
