import { describe, expect, it } from '@jest/globals';
import { expectEventually } from '@runyard/testing';
import { randomUUID } from 'node:crypto';
import type { IdempotencyStore } from './idempotency.store.js';

const LONG_MS = 60_000;
/** Stores keep sealed answers as opaque text (any characters base64url or JSON could hold). */
const response = (body: unknown): string => `sealed:${JSON.stringify(body)}`;

/**
 * What every IdempotencyStore must do, run against each adapter (memory in the unit tier, Redis in the
 * integration tier), so standalone and distributed mode behave alike.
 */
export function describeIdempotencyStoreContract(name: string, createStore: () => IdempotencyStore): void {
  describe(`${name} (IdempotencyStore contract)`, () => {
    const key = () => `key-${randomUUID()}`;

    it('lets exactly one of many concurrent callers acquire a key', async () => {
      const store = createStore();
      const k = key();
      const results = await Promise.all(Array.from({ length: 20 }, () => store.begin(k, 'fp', LONG_MS)));
      expect(results.filter((r) => r.outcome === 'acquired')).toHaveLength(1);
      expect(results.filter((r) => r.outcome === 'in_flight')).toHaveLength(19);
      for (const r of results) if (r.outcome === 'in_flight') expect(r.fingerprint).toBe('fp');
    });

    it('keeps a completed response and returns it with the fingerprint', async () => {
      const store = createStore();
      const k = key();
      const begun = await store.begin(k, 'fp-1', LONG_MS);
      if (begun.outcome !== 'acquired') throw new Error('expected to acquire');
      const stored = response({ id: 'abc', items: [], nested: { empty: {} }, text: 'a/b "q"' });
      await store.complete(k, begun.token, stored, LONG_MS);
      expect(await store.begin(k, 'fp-1', LONG_MS)).toEqual({ outcome: 'completed', fingerprint: 'fp-1', sealed: stored });
      expect(await store.begin(k, 'other', LONG_MS)).toEqual({ outcome: 'completed', fingerprint: 'fp-1', sealed: stored });
    });

    it('frees a released key for the next caller', async () => {
      const store = createStore();
      const k = key();
      const first = await store.begin(k, 'fp', LONG_MS);
      if (first.outcome !== 'acquired') throw new Error('expected to acquire');
      await store.release(k, first.token);
      expect((await store.begin(k, 'fp', LONG_MS)).outcome).toBe('acquired');
    });

    it('ignores complete and release from a caller that no longer owns the key', async () => {
      const store = createStore();
      const k = key();
      const first = await store.begin(k, 'fp', LONG_MS);
      if (first.outcome !== 'acquired') throw new Error('expected to acquire');
      await store.release(k, first.token);
      const second = await store.begin(k, 'fp', LONG_MS);
      if (second.outcome !== 'acquired') throw new Error('expected to acquire');

      await store.complete(k, first.token, response({ stale: true }), LONG_MS);
      await store.release(k, first.token);
      expect(await store.begin(k, 'fp', LONG_MS)).toEqual({ outcome: 'in_flight', fingerprint: 'fp' });

      await store.complete(k, second.token, response({ fresh: true }), LONG_MS);
      const after = await store.begin(k, 'fp', LONG_MS);
      expect(after.outcome === 'completed' && after.sealed).toBe(response({ fresh: true }));
    });

    it('expires an abandoned in-flight marker after its TTL', async () => {
      const store = createStore();
      const k = key();
      expect((await store.begin(k, 'fp', 50)).outcome).toBe('acquired');
      await expectEventually(async () => expect((await store.begin(k, 'fp', LONG_MS)).outcome).toBe('acquired'), { timeoutMs: 3000 });
    });

    it('keeps keys apart', async () => {
      const store = createStore();
      const [a, b] = [key(), key()];
      expect((await store.begin(a, 'fp', LONG_MS)).outcome).toBe('acquired');
      expect((await store.begin(b, 'fp', LONG_MS)).outcome).toBe('acquired');
    });
  });
}
