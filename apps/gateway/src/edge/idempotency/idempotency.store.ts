/** What the first request answered, replayed to its retries. */
export interface ReplayableResponse {
  status: number;
  /** Response headers to replay (content type and the like); never credentials. */
  headers: Record<string, string>;
  body: unknown;
}

export type BeginResult =
  /** This request owns the key; it must `complete` or `release` it with this token. */
  | { outcome: 'acquired'; token: string }
  /** Another request with this key is still running. */
  | { outcome: 'in_flight'; fingerprint: string }
  /** A request with this key finished; its answer is kept. */
  | { outcome: 'completed'; fingerprint: string; sealed: string };

/**
 * Where idempotency keys live. Answers are kept sealed (see response-seal.ts): the store only ever
 * holds opaque text. `begin` is atomic: of any number of concurrent callers with the same
 * key, exactly one gets `acquired`. `complete` and `release` act only while the caller's token still
 * owns the key (an in-flight marker that expired and was taken by a retry is not overwritten).
 */
export interface IdempotencyStore {
  begin(key: string, fingerprint: string, inFlightTtlMs: number): Promise<BeginResult>;
  complete(key: string, token: string, sealed: string, ttlMs: number): Promise<void>;
  release(key: string, token: string): Promise<void>;
}

export const IDEMPOTENCY_STORE = Symbol('runyard.gateway.idempotency-store');

/** Stored answers are kept 24 h: long enough for any client retry loop. */
export const IDEMPOTENCY_RESPONSE_TTL_MS = 24 * 60 * 60 * 1000;
