import { describe, expect, it } from '@jest/globals';
import { generateRequestId } from './request-id.js';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const withHeader = (value: string | string[] | undefined) => ({ headers: value === undefined ? {} : { 'x-request-id': value } });

describe('generateRequestId', () => {
  it('keeps a sane incoming X-Request-Id', () => {
    expect(generateRequestId(withHeader('abc-123'))).toBe('abc-123');
    expect(generateRequestId(withHeader('01HZX3K7Q9.trace:span/1+x='))).toBe('01HZX3K7Q9.trace:span/1+x=');
    expect(generateRequestId(withHeader('a'.repeat(128)))).toBe('a'.repeat(128));
  });

  it('replaces a missing, long or unsafe one with a fresh UUIDv7', () => {
    for (const value of [undefined, '', 'a'.repeat(129), 'has space', 'line\nbreak', '"quoted"', '<script>', '-leading-dash', ['a', 'b']]) {
      expect(generateRequestId(withHeader(value))).toMatch(UUID_V7);
    }
  });

  it('generates a different id each time', () => {
    expect(generateRequestId(withHeader(undefined))).not.toBe(generateRequestId(withHeader(undefined)));
  });
});
