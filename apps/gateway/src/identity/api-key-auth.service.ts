import { Inject, Injectable, Logger } from '@nestjs/common';
import { DomainError, ErrorCode } from '@runyard/contracts';
import { hashApiKey, hashesEqual, isAcceptableApiKey, visiblePrefixOf } from './api-key-material.js';
import { ApiKeysRepository } from './api-keys.repository.js';
import type { AuthenticatedCaller } from './caller.js';
import { CLOCK, type Clock } from './clock.js';

export type AuthFailureReason = 'missing_credentials' | 'malformed_key' | 'unknown_key' | 'revoked_key' | 'principal_disabled';

/** An UNAUTHENTICATED error that also says, for the audit trail only, what was wrong. */
export class AuthenticationFailure extends DomainError {
  constructor(
    readonly reason: AuthFailureReason,
    /** What is safe to record: the visible prefix and, for a known key, its id and tenant. Never the secret. */
    readonly attempt: { prefix?: string; keyId?: string; tenantId?: string | null },
  ) {
    super(ErrorCode.UNAUTHENTICATED, reason === 'missing_credentials' ? 'missing Authorization: Bearer <api key> header' : 'invalid or revoked API key');
  }
}

interface CachedCaller {
  caller: AuthenticatedCaller;
  expiresAt: number;
}

/**
 * Valid keys are cached for at most this long. Revocation through this process evicts at once; on
 * other replicas a revoked key keeps working for at most CACHE_TTL_MS (the cross-replica bound).
 */
export const CACHE_TTL_MS = 5_000;
const CACHE_MAX_ENTRIES = 10_000;
/** Longer than any lookup can take, so a racing lookup cannot resurrect a revoked key. */
const REVOCATION_MEMORY_MS = 60_000;
/** `last_used_at` is written at most this often per key, not on every request. */
export const LAST_USED_RESOLUTION_MS = 60_000;

@Injectable()
export class ApiKeyAuthService {
  private readonly logger = new Logger(ApiKeyAuthService.name);
  private readonly cacheByHash = new Map<string, CachedCaller>();
  private readonly hashByKeyId = new Map<string, string>();
  private readonly lastTouched = new Map<string, number>();
  /** Key ids revoked through this process, oldest first (Map keeps insertion order). */
  private readonly recentlyRevoked = new Map<string, number>();

  constructor(
    private readonly apiKeys: ApiKeysRepository,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /** From an `Authorization` header value to the caller; throws AuthenticationFailure. */
  async authenticate(authorization: string | undefined): Promise<AuthenticatedCaller> {
    const match = /^Bearer[ ]+(\S+)\s*$/i.exec(authorization ?? '');
    const presented = match?.[1];
    if (presented === undefined) throw new AuthenticationFailure('missing_credentials', {});
    const prefix = visiblePrefixOf(presented);
    if (!isAcceptableApiKey(presented)) throw new AuthenticationFailure('malformed_key', {});
    const keyHash = hashApiKey(presented);
    const now = this.clock.now();

    const cached = this.cacheByHash.get(keyHash);
    if (cached && cached.expiresAt > now.getTime()) {
      this.recordUse(cached.caller, now, null);
      return cached.caller;
    }
    if (cached) this.evictHash(keyHash);

    const found = await this.apiKeys.findCredentialByHash(keyHash);
    // The index lookup already matched; comparing again in constant time keeps timing from depending
    // on how much of a hash matched, whatever the database's comparison does.
    if (!found || !hashesEqual(found.key.keyHash, keyHash)) throw new AuthenticationFailure('unknown_key', { prefix });
    const attempt = { prefix: found.key.prefix, keyId: found.key.id, tenantId: found.key.tenantId };
    if (found.key.revokedAt !== null || this.recentlyRevoked.has(found.key.id)) throw new AuthenticationFailure('revoked_key', attempt);
    if (found.principalDisabledAt !== null) throw new AuthenticationFailure('principal_disabled', attempt);

    const system = found.principalKind === 'system';
    const caller: AuthenticatedCaller = {
      kind: system ? 'system' : 'tenant',
      tenantId: found.key.tenantId,
      principalId: found.key.principalId,
      role: found.principalRole,
      apiKeyId: found.key.id,
      apiKeyPrefix: found.key.prefix,
    };
    this.remember(keyHash, caller, now);
    this.recordUse(caller, now, found.key.lastUsedAt);
    return caller;
  }

  /**
   * Called once a revocation is committed: forgets the key at once, so this replica refuses it from
   * the next request on. The key id is also remembered for a while, so a lookup that read the row
   * just before the revocation committed cannot put the key back into the cache.
   */
  revoked(apiKeyId: string): void {
    const now = this.clock.now().getTime();
    for (const [keyId, at] of this.recentlyRevoked) {
      if (now - at <= REVOCATION_MEMORY_MS) break;
      this.recentlyRevoked.delete(keyId);
    }
    this.recentlyRevoked.set(apiKeyId, now);
    const keyHash = this.hashByKeyId.get(apiKeyId);
    if (keyHash !== undefined) this.evictHash(keyHash);
  }

  private remember(keyHash: string, caller: AuthenticatedCaller, now: Date): void {
    if (this.cacheByHash.size >= CACHE_MAX_ENTRIES) {
      const oldest = this.cacheByHash.keys().next();
      if (!oldest.done) this.evictHash(oldest.value);
    }
    this.cacheByHash.set(keyHash, { caller, expiresAt: now.getTime() + CACHE_TTL_MS });
    this.hashByKeyId.set(caller.apiKeyId, keyHash);
  }

  private evictHash(keyHash: string): void {
    const entry = this.cacheByHash.get(keyHash);
    this.cacheByHash.delete(keyHash);
    if (entry) this.hashByKeyId.delete(entry.caller.apiKeyId);
  }

  /**
   * Writes `last_used_at` at most once per LAST_USED_RESOLUTION_MS per key, off the request path:
   * a failed write costs only freshness of that column, so it is logged, never surfaced.
   */
  private recordUse(caller: AuthenticatedCaller, now: Date, storedLastUsedAt: Date | null): void {
    const last = Math.max(this.lastTouched.get(caller.apiKeyId) ?? 0, storedLastUsedAt?.getTime() ?? 0);
    if (this.lastTouched.size >= CACHE_MAX_ENTRIES) this.lastTouched.clear();
    if (now.getTime() - last < LAST_USED_RESOLUTION_MS) {
      if (last > 0) this.lastTouched.set(caller.apiKeyId, last);
      return;
    }
    this.lastTouched.set(caller.apiKeyId, now.getTime());
    this.apiKeys
      .touchLastUsed(caller.tenantId, caller.apiKeyId, now, new Date(now.getTime() - LAST_USED_RESOLUTION_MS))
      .catch((error: unknown) => this.logger.warn(`last_used_at of key ${caller.apiKeyPrefix} not updated: ${error instanceof Error ? error.message : String(error)}`));
  }
}
