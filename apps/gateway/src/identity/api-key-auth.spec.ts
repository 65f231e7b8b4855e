import { describe, expect, it, jest } from '@jest/globals';
import { ErrorCode } from '@runyard/contracts';
import { ApiKeyAuthService, AuthenticationFailure, CACHE_TTL_MS, LAST_USED_RESOLUTION_MS } from './api-key-auth.service.js';
import { ApiKeyEntity } from './api-key.entity.js';
import { generateApiKey, hashApiKey, isAcceptableApiKey, prefixForConfiguredKey, visiblePrefixOf } from './api-key-material.js';
import type { ApiKeysRepository } from './api-keys.repository.js';
import type { Clock } from './clock.js';
import type { ApiKeyWithPrincipal } from './identity.views.js';

class TestClock implements Clock {
  private at = Date.parse('2026-03-01T10:00:00.000Z');
  now(): Date {
    return new Date(this.at);
  }
  advance(ms: number): void {
    this.at += ms;
  }
}

const TENANT = '01900000-0000-7000-8000-00000000000a';
const PRINCIPAL = '01900000-0000-7000-8000-00000000000b';

function storedKey(key: string, overrides: Partial<ApiKeyEntity> = {}): ApiKeyWithPrincipal {
  const entity = Object.assign(new ApiKeyEntity(), {
    id: '01900000-0000-7000-8000-0000000000c1',
    tenantId: TENANT,
    principalId: PRINCIPAL,
    name: 'k',
    prefix: visiblePrefixOf(key) ?? 'ryk_000000000000',
    keyHash: hashApiKey(key),
    createdAt: new Date('2026-01-01T00:00:00Z'),
    lastUsedAt: null,
    revokedAt: null,
    createdBy: PRINCIPAL,
    ...overrides,
  });
  return { key: entity, principalRole: 'member', principalKind: 'user', principalDisabledAt: null };
}

/** A strict fake: only the two methods authentication may call; anything else is undefined and fails. */
function fakeRepository(rows: ApiKeyWithPrincipal[]) {
  const findCredentialByHash = jest.fn((hash: string) => Promise.resolve(rows.find((row) => row.key.keyHash === hash) ?? null));
  const touchLastUsed = jest.fn((_tenantId: string | null, _keyId: string, _at: Date, _notBefore: Date) => Promise.resolve());
  const repository = { findCredentialByHash, touchLastUsed } as unknown as ApiKeysRepository;
  return { repository, findCredentialByHash, touchLastUsed };
}

async function failureOf(promise: Promise<unknown>): Promise<AuthenticationFailure> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(AuthenticationFailure);
  expect((error as AuthenticationFailure).code).toBe(ErrorCode.UNAUTHENTICATED);
  return error as AuthenticationFailure;
}

describe('API key material', () => {
  it('generates ryk_<12>_<43> keys with 256 random bits and a visible prefix', () => {
    const keys = Array.from({ length: 200 }, () => generateApiKey());
    for (const { key, prefix, keyHash } of keys) {
      expect(key).toMatch(/^ryk_[a-z0-9]{12}_[A-Za-z0-9_-]{43}$/);
      expect(Buffer.from(key.slice(17), 'base64url')).toHaveLength(32);
      expect(prefix).toBe(key.slice(0, 16));
      expect(keyHash).toBe(hashApiKey(key));
      expect(keyHash).toMatch(/^[0-9a-f]{64}$/);
    }
    expect(new Set(keys.map((k) => k.key)).size).toBe(keys.length);
    expect(new Set(keys.map((k) => k.prefix)).size).toBe(keys.length);
  });

  it('never reveals part of a token that is not a well-formed key', () => {
    expect(visiblePrefixOf('ryk_abc')).toBeUndefined();
    expect(visiblePrefixOf('my-password-that-is-long-enough-1234567')).toBeUndefined();
    expect(isAcceptableApiKey('short')).toBe(false);
    expect(isAcceptableApiKey('with spaces inside the token that is long')).toBe(false);
    const opaque = 'opaque-operator-token-0123456789abcdef';
    expect(isAcceptableApiKey(opaque)).toBe(true);
    expect(opaque).not.toContain(prefixForConfiguredKey(opaque).slice(4));
    // Random, not derived from the key: nothing in logs narrows a guess.
    expect(prefixForConfiguredKey(opaque)).not.toBe(prefixForConfiguredKey(opaque));
  });
});

describe('ApiKeyAuthService', () => {
  it('turns a valid bearer key into the caller', async () => {
    const { key } = generateApiKey();
    const { repository } = fakeRepository([storedKey(key)]);
    const auth = new ApiKeyAuthService(repository, new TestClock());
    await expect(auth.authenticate(`Bearer ${key}`)).resolves.toEqual({
      kind: 'tenant',
      tenantId: TENANT,
      principalId: PRINCIPAL,
      role: 'member',
      apiKeyId: '01900000-0000-7000-8000-0000000000c1',
      apiKeyPrefix: key.slice(0, 16),
    });
  });

  it('refuses missing and malformed credentials without a database lookup', async () => {
    const { repository, findCredentialByHash } = fakeRepository([]);
    const auth = new ApiKeyAuthService(repository, new TestClock());
    expect((await failureOf(auth.authenticate(undefined))).reason).toBe('missing_credentials');
    expect((await failureOf(auth.authenticate('Basic dXNlcjpwYXNz'))).reason).toBe('missing_credentials');
    const malformed = await failureOf(auth.authenticate('Bearer tiny'));
    expect(malformed.reason).toBe('malformed_key');
    expect(malformed.attempt).toEqual({});
    expect(findCredentialByHash).not.toHaveBeenCalled();
  });

  it('refuses unknown, revoked and disabled keys, telling the audit trail only the visible prefix', async () => {
    const unknown = generateApiKey().key;
    const revoked = generateApiKey().key;
    const disabled = generateApiKey().key;
    const { repository } = fakeRepository([
      storedKey(revoked, { id: '01900000-0000-7000-8000-0000000000d1', revokedAt: new Date() }),
      { ...storedKey(disabled, { id: '01900000-0000-7000-8000-0000000000d2' }), principalDisabledAt: new Date() },
    ]);
    const auth = new ApiKeyAuthService(repository, new TestClock());

    const unknownFailure = await failureOf(auth.authenticate(`Bearer ${unknown}`));
    expect(unknownFailure).toMatchObject({ reason: 'unknown_key', attempt: { prefix: unknown.slice(0, 16) } });
    expect(JSON.stringify(unknownFailure.attempt)).not.toContain(unknown.slice(17));
    expect(await failureOf(auth.authenticate(`Bearer ${revoked}`))).toMatchObject({
      reason: 'revoked_key',
      attempt: { keyId: '01900000-0000-7000-8000-0000000000d1', tenantId: TENANT, prefix: revoked.slice(0, 16) },
    });
    expect((await failureOf(auth.authenticate(`Bearer ${disabled}`))).reason).toBe('principal_disabled');
  });

  it('serves a key from its cache for at most CACHE_TTL_MS', async () => {
    const { key } = generateApiKey();
    const { repository, findCredentialByHash } = fakeRepository([storedKey(key)]);
    const clock = new TestClock();
    const auth = new ApiKeyAuthService(repository, clock);

    await auth.authenticate(`Bearer ${key}`);
    clock.advance(CACHE_TTL_MS - 1);
    await auth.authenticate(`Bearer ${key}`);
    expect(findCredentialByHash).toHaveBeenCalledTimes(1);
    clock.advance(2);
    await auth.authenticate(`Bearer ${key}`);
    expect(findCredentialByHash).toHaveBeenCalledTimes(2);
  });

  it('writes last_used_at at most once a minute per key', async () => {
    const { key } = generateApiKey();
    const recentlyUsed = generateApiKey().key;
    const clock = new TestClock();
    const recentRow = storedKey(recentlyUsed, { id: '01900000-0000-7000-8000-0000000000e1' });
    const { repository, touchLastUsed } = fakeRepository([storedKey(key), recentRow]);
    const auth = new ApiKeyAuthService(repository, clock);

    for (let i = 0; i < 5; i += 1) {
      await auth.authenticate(`Bearer ${key}`);
      clock.advance(CACHE_TTL_MS + 1);
    }
    expect(touchLastUsed).toHaveBeenCalledTimes(1);
    expect(touchLastUsed.mock.calls[0]?.[1]).toBe('01900000-0000-7000-8000-0000000000c1');
    clock.advance(LAST_USED_RESOLUTION_MS);
    await auth.authenticate(`Bearer ${key}`);
    expect(touchLastUsed).toHaveBeenCalledTimes(2);

    // Recorded 10 s ago by some replica: not written again before its minute is up.
    recentRow.key.lastUsedAt = new Date(clock.now().getTime() - 10_000);
    await auth.authenticate(`Bearer ${recentlyUsed}`);
    expect(touchLastUsed).toHaveBeenCalledTimes(2);
  });

  it('refuses a revoked key even when a lookup read it just before the revocation committed', async () => {
    const { key } = generateApiKey();
    const stale = storedKey(key);
    const { repository } = fakeRepository([stale]);
    const auth = new ApiKeyAuthService(repository, new TestClock());
    await auth.authenticate(`Bearer ${key}`);

    auth.revoked(stale.key.id);
    // The fake still returns the unrevoked row, as a racing lookup would have.
    expect((await failureOf(auth.authenticate(`Bearer ${key}`))).reason).toBe('revoked_key');
  });
});
