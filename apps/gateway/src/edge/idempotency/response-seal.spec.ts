import { describe, expect, it } from '@jest/globals';
import { openResponse, sealResponse } from './response-seal.js';

describe('sealed idempotent responses', () => {
  const response = { status: 201, headers: { 'content-type': 'application/json' }, body: { key: 'ryk_secret_value', id: 'k-1' } };

  it('round-trips with the same credential and scope, and hides the content', () => {
    const sealed = sealResponse(response, 'ryk_caller_key', 'scope-1');
    expect(sealed).not.toContain('ryk_secret_value');
    expect(Buffer.from(sealed, 'base64url').toString('utf8')).not.toContain('ryk_secret_value');
    expect(openResponse(sealed, 'ryk_caller_key', 'scope-1')).toEqual(response);
  });

  it('cannot be opened with another credential or scope, or once altered', () => {
    const sealed = sealResponse(response, 'ryk_caller_key', 'scope-1');
    expect(() => openResponse(sealed, 'ryk_other_key', 'scope-1')).toThrow();
    expect(() => openResponse(sealed, 'ryk_caller_key', 'scope-2')).toThrow();
    const bytes = Buffer.from(sealed, 'base64url');
    bytes[bytes.length - 1] ^= 1;
    expect(() => openResponse(bytes.toString('base64url'), 'ryk_caller_key', 'scope-1')).toThrow();
  });
});
