import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { BeginResult, IdempotencyStore } from './idempotency.store.js';

type StoredRecord = { s: 'in_flight'; f: string; t: string } | { s: 'completed'; f: string; r: string };

// Both scripts act only while the caller's token still owns the in-flight marker, atomically.
const COMPLETE_IF_OWNER = `
local current = redis.call('GET', KEYS[1])
if not current then return 0 end
local ok, record = pcall(cjson.decode, current)
if not ok or record.s ~= 'in_flight' or record.t ~= ARGV[1] then return 0 end
-- ARGV[2] is the sealed answer as a JSON string literal.
redis.call('SET', KEYS[1], '{"s":"completed","f":' .. cjson.encode(record.f) .. ',"r":' .. ARGV[2] .. '}', 'PX', ARGV[3])
return 1`;

const RELEASE_IF_OWNER = `
local current = redis.call('GET', KEYS[1])
if not current then return 0 end
local ok, record = pcall(cjson.decode, current)
if not ok or record.s ~= 'in_flight' or record.t ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1`;

/** A marker can vanish between SET NX and GET (released or expired): then claiming is tried again. */
const BEGIN_ATTEMPTS = 3;

/**
 * Distributed mode's store: every gateway replica shares it. The in-flight marker is claimed with one
 * atomic `SET NX PX`, so of concurrent duplicates exactly one proceeds, whichever replica it hits;
 * answers are kept with a TTL (24 h by default).
 */
export class RedisIdempotencyStore implements IdempotencyStore {
  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix = 'runyard:gateway:idempotency:',
  ) {}

  async begin(key: string, fingerprint: string, inFlightTtlMs: number): Promise<BeginResult> {
    const redisKey = this.keyPrefix + key;
    for (let attempt = 0; attempt < BEGIN_ATTEMPTS; attempt += 1) {
      const token = randomUUID();
      const marker: StoredRecord = { s: 'in_flight', f: fingerprint, t: token };
      const claimed = await this.redis.set(redisKey, JSON.stringify(marker), 'PX', inFlightTtlMs, 'NX');
      if (claimed === 'OK') return { outcome: 'acquired', token };
      const current = await this.redis.get(redisKey);
      if (current === null) continue;
      const record = JSON.parse(current) as StoredRecord;
      if (record.s === 'completed') return { outcome: 'completed', fingerprint: record.f, sealed: record.r };
      return { outcome: 'in_flight', fingerprint: record.f };
    }
    throw new Error(`idempotency key ${key} changed owner ${BEGIN_ATTEMPTS} times while being claimed`);
  }

  async complete(key: string, token: string, sealed: string, ttlMs: number): Promise<void> {
    await this.redis.eval(COMPLETE_IF_OWNER, 1, this.keyPrefix + key, token, JSON.stringify(sealed), String(ttlMs));
  }

  async release(key: string, token: string): Promise<void> {
    await this.redis.eval(RELEASE_IF_OWNER, 1, this.keyPrefix + key, token);
  }
}
