import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import type { ReplayableResponse } from './idempotency.store.js';

const ALGORITHM = 'aes-256-gcm';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const INFO = 'runyard idempotent response v1';

/**
 * Stored answers are sealed (AES-256-GCM) with a key derived from the caller's own API key and the
 * idempotency scope. Some answers carry secrets (a new API key is shown exactly once), and all carry
 * tenant data: whoever reads the store (a Redis dump, a shared cache) learns nothing without the
 * credential that made the request, which the gateway itself never stores.
 */
function keyFor(credential: string, scopeKey: string): Buffer {
  return Buffer.from(hkdfSync('sha256', credential, scopeKey, INFO, 32));
}

export function sealResponse(response: ReplayableResponse, credential: string, scopeKey: string): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv(ALGORITHM, keyFor(credential, scopeKey), iv);
  const ciphertext = Buffer.concat([cipher.update(JSON.stringify(response), 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), ciphertext]).toString('base64url');
}

/** Throws when the credential or scope differs from the sealing ones, or the text was altered. */
export function openResponse(sealed: string, credential: string, scopeKey: string): ReplayableResponse {
  const bytes = Buffer.from(sealed, 'base64url');
  const decipher = createDecipheriv(ALGORITHM, keyFor(credential, scopeKey), bytes.subarray(0, IV_BYTES));
  decipher.setAuthTag(bytes.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
  const plain = Buffer.concat([decipher.update(bytes.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]);
  return JSON.parse(plain.toString('utf8')) as ReplayableResponse;
}
