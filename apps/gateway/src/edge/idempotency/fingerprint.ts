import { requestFingerprint, sha256Hex } from '@runyard/persistence';

/** What makes two HTTP requests "the same": route params and body, canonically. */
export function httpRequestFingerprint(params: unknown, body: unknown): string {
  return requestFingerprint({ params: params ?? {}, body: body ?? null });
}

/**
 * The store key: a key only means something for the caller that sent it and the route it sent it
 * to. Hashed, so the store key has a bounded length whatever the header holds.
 */
export function idempotencyScopeKey(parts: { tenantId: string; principalId: string; apiKeyId: string; method: string; route: string; key: string }): string {
  return sha256Hex(JSON.stringify([parts.tenantId, parts.principalId, parts.apiKeyId, parts.method, parts.route, parts.key]));
}
