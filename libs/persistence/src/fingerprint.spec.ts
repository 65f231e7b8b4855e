import { describe, expect, it } from '@jest/globals';
import { canonicalJson, requestFingerprint } from './fingerprint.js';

describe('request fingerprints', () => {
  it('are the same for the same request whatever the key order or undefined members, and differ otherwise', () => {
    const a = { body: { input: 'x', route: { model: 'm', executor: 'echo' }, tags: [1, { b: 2, a: 1 }] }, extra: undefined };
    const b = { body: { tags: [1, { a: 1, b: 2 }], route: { executor: 'echo', model: 'm' }, input: 'x' } };
    expect(canonicalJson(a)).toBe('{"body":{"input":"x","route":{"executor":"echo","model":"m"},"tags":[1,{"a":1,"b":2}]}}');
    expect(requestFingerprint(a)).toBe(requestFingerprint(b));
    expect(requestFingerprint(a)).toMatch(/^[0-9a-f]{64}$/);
    expect(requestFingerprint({ body: { ...b.body, input: 'y' } })).not.toBe(requestFingerprint(b));
    expect(canonicalJson([undefined, null])).toBe('[null,null]');
  });
});
