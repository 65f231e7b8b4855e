import { LOG_LINE_TEXT_MAX_BYTES } from '@runyard/contracts';

export interface StoredText {
  text: string;
  /** UTF-8 bytes of `text` as stored. */
  bytes: number;
  truncated: boolean;
}

/**
 * A line's text as it is stored: NUL characters (which PostgreSQL text cannot hold) become U+FFFD,
 * and text over `maxBytes` is cut on a character boundary and ends in an explicit marker saying how
 * much was cut — never silently shortened.
 */
export function toStoredText(raw: string, maxBytes = LOG_LINE_TEXT_MAX_BYTES): StoredText {
  const text = raw.includes('\u0000') ? raw.replaceAll('\u0000', '\uFFFD') : raw;
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes <= maxBytes) return { text, bytes, truncated: false };
  const marker = (cut: number) => ` …[truncated: ${cut} bytes]`;
  // The marker's length depends on the number it carries; reserve room for the longest it can be.
  const room = maxBytes - Buffer.byteLength(marker(bytes), 'utf8');
  const kept = cutUtf8(text, room);
  const keptBytes = Buffer.byteLength(kept, 'utf8');
  const stored = kept + marker(bytes - keptBytes);
  return { text: stored, bytes: Buffer.byteLength(stored, 'utf8'), truncated: true };
}

/** The longest prefix of `text` of at most `maxBytes` UTF-8 bytes that ends on a whole character. */
function cutUtf8(text: string, maxBytes: number): string {
  // A streaming decode keeps a trailing partial character back instead of turning it into U+FFFD.
  return new TextDecoder('utf-8').decode(Buffer.from(text, 'utf8').subarray(0, Math.max(0, maxBytes)), { stream: true });
}
