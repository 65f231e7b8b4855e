import { randomUUID } from 'node:crypto';
import type { BeginResult, IdempotencyStore } from './idempotency.store.js';

type Entry =
  | { state: 'in_flight'; fingerprint: string; token: string; expiresAt: number }
  | { state: 'completed'; fingerprint: string; sealed: string; expiresAt: number };

const SWEEP_INTERVAL_MS = 60_000;

/**
 * Standalone mode's store: one process, so a Map is atomic enough (JavaScript runs `begin` to
 * completion without interleaving). Expired entries are swept at most once a minute.
 */
export class MemoryIdempotencyStore implements IdempotencyStore {
  private readonly entries = new Map<string, Entry>();
  private lastSweep = 0;

  constructor(private readonly now: () => number = Date.now) {}

  begin(key: string, fingerprint: string, inFlightTtlMs: number): Promise<BeginResult> {
    this.sweep();
    const existing = this.live(key);
    if (existing?.state === 'completed') return Promise.resolve({ outcome: 'completed', fingerprint: existing.fingerprint, sealed: existing.sealed });
    if (existing?.state === 'in_flight') return Promise.resolve({ outcome: 'in_flight', fingerprint: existing.fingerprint });
    const token = randomUUID();
    this.entries.set(key, { state: 'in_flight', fingerprint, token, expiresAt: this.now() + inFlightTtlMs });
    return Promise.resolve({ outcome: 'acquired', token });
  }

  complete(key: string, token: string, sealed: string, ttlMs: number): Promise<void> {
    const existing = this.live(key);
    if (existing?.state === 'in_flight' && existing.token === token) {
      this.entries.set(key, { state: 'completed', fingerprint: existing.fingerprint, sealed, expiresAt: this.now() + ttlMs });
    }
    return Promise.resolve();
  }

  release(key: string, token: string): Promise<void> {
    const existing = this.live(key);
    if (existing?.state === 'in_flight' && existing.token === token) this.entries.delete(key);
    return Promise.resolve();
  }

  private live(key: string): Entry | undefined {
    const entry = this.entries.get(key);
    if (entry && entry.expiresAt <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  private sweep(): void {
    const now = this.now();
    if (now - this.lastSweep < SWEEP_INTERVAL_MS) return;
    this.lastSweep = now;
    for (const [key, entry] of this.entries) if (entry.expiresAt <= now) this.entries.delete(key);
  }
}
