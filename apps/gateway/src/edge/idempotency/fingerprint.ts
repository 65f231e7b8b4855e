import { createHash } from 'node:crypto';

/** JSON with object keys sorted at every level, so `{a,b}` and `{b,a}` are the same request. */
export function canonicalJson(value: unknown): string {
  if (value === undefined) return 'null';
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map((item) => (item === undefined ? 'null' : canonicalJson(item))).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, item]) => item !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(',')}}`;
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** What makes two requests "the same": route params and body, canonically. */
export function requestFingerprint(params: unknown, body: unknown): string {
  return sha256Hex(canonicalJson({ params: params ?? {}, body: body ?? null }));
}

/**
 * The store key: a key only means something for the caller that sent it and the route it sent it
 * to. Hashed, so the store key has a bounded length whatever the header holds.
 */
export function idempotencyScopeKey(parts: { tenantId: string; principalId: string; apiKeyId: string; method: string; route: string; key: string }): string {
  return sha256Hex(JSON.stringify([parts.tenantId, parts.principalId, parts.apiKeyId, parts.method, parts.route, parts.key]));
}
