import { createHash } from 'node:crypto';

/** JSON with object keys sorted at every level and undefined members left out, so `{a,b}` and `{b,a}` are one value. */
export function canonicalJson(value: unknown): string {
  if (value === undefined) return 'null';
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item)).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, item]) => item !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(',')}}`;
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/**
 * What makes two requests with one idempotency key the same request: sha256 (hex) of what they ask
 * for as canonical JSON. Stored with the key; a request with another fingerprint is a reuse of it.
 */
export function requestFingerprint(request: unknown): string {
  return sha256Hex(canonicalJson(request));
}
