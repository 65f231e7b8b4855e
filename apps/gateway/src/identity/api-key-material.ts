import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * API key format: `ryk_<12-char prefix>_<43-char secret>`.
 *  - `ryk_<prefix>` is the visible part: shown in lists and logs, unique, identifies the key to humans.
 *  - the secret is 32 random bytes (256 bits) as base64url; with that much entropy a fast hash is the
 *    right storage (no brute force is possible), so the database keeps SHA-256(full key) and nothing
 *    that could be replayed.
 * The fixed `ryk_` marker also lets secret scanners recognise a leaked key.
 */
export const API_KEY_MARKER = 'ryk_';
const PREFIX_CHARS = 'abcdefghijklmnopqrstuvwxyz0123456789';
const PREFIX_RANDOM_LENGTH = 12;
const KEY_PATTERN = /^ryk_[a-z0-9]{12}_[A-Za-z0-9_-]{43}$/;
/** An operator-chosen bootstrap key may be any long random token, not only a generated one. */
const OPAQUE_KEY_PATTERN = /^[\x21-\x7e]{32,256}$/;

export interface GeneratedApiKey {
  /** The plaintext key: returned to its creator once, never stored or logged. */
  key: string;
  prefix: string;
  keyHash: string;
}

function randomPrefixChars(): string {
  // Rejection sampling keeps every character equally likely (256 is not a multiple of 36).
  let result = '';
  while (result.length < PREFIX_RANDOM_LENGTH) {
    for (const byte of randomBytes(PREFIX_RANDOM_LENGTH * 2)) {
      if (byte < 252 && result.length < PREFIX_RANDOM_LENGTH) result += PREFIX_CHARS[byte % PREFIX_CHARS.length];
    }
  }
  return result;
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

export function generateApiKey(): GeneratedApiKey {
  const prefix = `${API_KEY_MARKER}${randomPrefixChars()}`;
  const secret = randomBytes(32).toString('base64url');
  const key = `${prefix}_${secret}`;
  return { key, prefix, keyHash: hashApiKey(key) };
}

export function isWellFormedApiKey(key: string): boolean {
  return KEY_PATTERN.test(key);
}

/** The visible prefix of a well-formed key, or undefined: never echo any part of a malformed token (it may be a secret). */
export function visiblePrefixOf(key: string): string | undefined {
  return isWellFormedApiKey(key) ? key.slice(0, API_KEY_MARKER.length + PREFIX_RANDOM_LENGTH) : undefined;
}

/**
 * Worth a database lookup: a generated key, or an operator-chosen opaque bootstrap token (32-256
 * visible ASCII characters). Anything else is refused without touching the database.
 */
export function isAcceptableApiKey(key: string): boolean {
  return KEY_PATTERN.test(key) || OPAQUE_KEY_PATTERN.test(key);
}

/**
 * The stored prefix of an operator-chosen key. A Runyard-format key shows its own leading characters;
 * an opaque one must not (they are part of the secret), and neither may anything derived from it (a
 * hash fragment in logs would let a weak key be guessed offline), so it gets a random one. It is
 * stored once: later activations of the same key find it by hash and keep it.
 */
export function prefixForConfiguredKey(key: string): string {
  return visiblePrefixOf(key) ?? `${API_KEY_MARKER}${randomPrefixChars()}`;
}

/** Constant-time comparison of two SHA-256 hex digests. */
export function hashesEqual(a: string, b: string): boolean {
  const left = Buffer.from(a, 'hex');
  const right = Buffer.from(b, 'hex');
  return left.length === right.length && left.length > 0 && timingSafeEqual(left, right);
}
