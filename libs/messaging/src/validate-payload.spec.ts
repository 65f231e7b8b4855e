import { describe, expect, it } from '@jest/globals';
import { CreateSessionBody, CreateSessionPayload, DomainError, ErrorCode } from '@runyard/contracts';
import { validatePayload } from './validate-payload.js';

const scope = { tenant_id: '0190a5f1-0000-7000-8000-000000000001', principal_id: '0190a5f1-0000-7000-8000-000000000002', role: 'member' };

async function failureOf(promise: Promise<unknown>): Promise<DomainError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof DomainError)) throw new Error(`expected a DomainError, got ${String(error)}`);
  return error;
}

describe('validatePayload', () => {
  it('returns an instance of the payload class, nested classes included', async () => {
    const payload = await validatePayload(CreateSessionPayload, {
      scope,
      body: { title: 'Report', reply_targets: [{ channel: 'slack', address: 'C1' }] },
    });

    expect(payload).toBeInstanceOf(CreateSessionPayload);
    expect(payload.body).toBeInstanceOf(CreateSessionBody);
    expect(payload.body.reply_targets?.[0]?.channel).toBe('slack');
  });

  it('reports nested problems with dotted field paths', async () => {
    const error = await failureOf(
      validatePayload(CreateSessionPayload, { scope: { ...scope, role: 'owner' }, body: { reply_targets: [{ channel: 'ok', address: 'a' }, { channel: '', address: 'b' }] } }),
    );

    expect(error.code).toBe(ErrorCode.VALIDATION_FAILED);
    const fields = error.details?.errors?.map((e) => e.field);
    expect(fields).toEqual(expect.arrayContaining(['scope.role', 'body.reply_targets.1.channel']));
    expect(fields).not.toContain('body.reply_targets.0.channel');
    expect(error.message).toContain('body.reply_targets.1.channel');
  });

  it('refuses unknown fields at any depth instead of dropping them', async () => {
    const error = await failureOf(validatePayload(CreateSessionPayload, { scope, body: { title: 'x', owner_id: 'me' }, admin: true }));

    expect(error.details?.errors).toEqual(
      expect.arrayContaining([
        { field: 'admin', message: 'property admin should not exist' },
        { field: 'body.owner_id', message: 'property owner_id should not exist' },
      ]),
    );
  });

  it('refuses a nested value of the wrong shape', async () => {
    const error = await failureOf(validatePayload(CreateSessionPayload, { scope, body: 'not an object' }));
    expect(error.details?.errors?.map((e) => e.field)).toContain('body');
  });

  it.each([null, 'text', 42, [{ scope }]])('refuses %p as a payload', async (plain) => {
    const error = await failureOf(validatePayload(CreateSessionPayload, plain));
    expect(error.details?.errors).toEqual([{ field: '', message: 'payload must be a JSON object' }]);
  });
});
