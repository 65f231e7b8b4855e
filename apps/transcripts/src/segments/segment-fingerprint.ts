import { createHash } from 'node:crypto';

/** JSON with object keys sorted at every level and undefined members left out, so `{a,b}` and `{b,a}` are one body. */
function canonicalJson(value: unknown): string {
  if (value === undefined) return 'null';
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item)).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, item]) => item !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(',')}}`;
}

/**
 * What makes two creates with one idempotency key the same request (as for runs): sha256 (hex) of the
 * target and the body as canonical JSON. Stored with the key; another fingerprint is a reuse.
 */
export function segmentFingerprint(target: { session_id?: string; run_id?: string }, body: object): string {
  return createHash('sha256').update(canonicalJson({ target, body }), 'utf8').digest('hex');
}
