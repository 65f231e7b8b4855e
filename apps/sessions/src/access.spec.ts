import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  AppendMessage,
  ArchiveSession,
  CreateSession,
  DomainError,
  ErrorCode,
  GetSession,
  ListMessages,
  ListSessions,
  UpdateSession,
  type CallerScope,
  type SessionView,
} from '@runyard/contracts';
import type { InProcessBus } from '@runyard/messaging';
import { v7 as uuidv7 } from 'uuid';
import { startSessionsFixture, type SessionsFixture } from './sessions.fixture.js';

// Who may see and change what: a tenant sees nothing of another tenant, a member only its own
// sessions, an admin its whole tenant. Anything out of reach is NOT_FOUND, never FORBIDDEN.
let fixture: SessionsFixture;
let bus: InProcessBus;

beforeAll(async () => {
  fixture = await startSessionsFixture();
  ({ bus } = fixture);
}, 60_000);

afterAll(() => fixture.close());

function scope(tenantId: string, role: CallerScope['role']): CallerScope {
  return { tenant_id: tenantId, principal_id: uuidv7(), role };
}

async function code(promise: Promise<unknown>): Promise<ErrorCode | 'ok'> {
  try {
    await promise;
    return 'ok';
  } catch (error) {
    if (error instanceof DomainError) return error.code;
    throw error;
  }
}

/** What `caller` gets from every command on `session`, archive last so the others see it active. */
async function reach(caller: CallerScope, session: SessionView): Promise<Record<string, ErrorCode | 'ok'>> {
  const session_id = session.id;
  return {
    get: await code(bus.request(GetSession, { scope: caller, session_id })),
    update: await code(bus.request(UpdateSession, { scope: caller, session_id, body: { title: 'touched' } })),
    append: await code(bus.request(AppendMessage, { scope: caller, session_id, body: { role: 'user', content: 'hi' } })),
    listMessages: await code(bus.request(ListMessages, { scope: caller, session_id, query: {} })),
    createSubSession: await code(bus.request(CreateSession, { scope: caller, body: { parent_session_id: session_id } })),
    archive: await code(bus.request(ArchiveSession, { scope: caller, session_id })),
  };
}

async function listedIds(caller: CallerScope): Promise<string[]> {
  return (await bus.request(ListSessions, { scope: caller, query: { limit: 200 } })).data.map((session) => session.id);
}

const NOT_FOUND_EVERYWHERE = {
  get: ErrorCode.NOT_FOUND,
  update: ErrorCode.NOT_FOUND,
  append: ErrorCode.NOT_FOUND,
  listMessages: ErrorCode.NOT_FOUND,
  createSubSession: ErrorCode.NOT_FOUND,
  archive: ErrorCode.NOT_FOUND,
};
const ALLOWED_EVERYWHERE = { get: 'ok', update: 'ok', append: 'ok', listMessages: 'ok', createSubSession: 'ok', archive: 'ok' };

describe('tenant isolation', () => {
  it('hides a session from every principal of another tenant, admins included', async () => {
    const tenantA = uuidv7();
    const tenantB = uuidv7();
    const owner = scope(tenantA, 'member');
    const session = await bus.request(CreateSession, { scope: owner, body: { title: 'tenant A only' } });
    for (const outsider of [scope(tenantB, 'admin'), { ...scope(tenantB, 'member'), principal_id: owner.principal_id }]) {
      expect(await reach(outsider, session)).toEqual(NOT_FOUND_EVERYWHERE);
      expect(await listedIds(outsider)).toEqual([]);
    }
    // Nothing the outsiders tried took effect.
    const seen = await bus.request(GetSession, { scope: owner, session_id: session.id });
    expect(seen).toEqual(session);
    expect(await listedIds(owner)).toEqual([session.id]);
  });
});

describe('ownership within a tenant', () => {
  it('lets a member reach only its own sessions', async () => {
    const tenantId = uuidv7();
    const alice = scope(tenantId, 'member');
    const bob = scope(tenantId, 'member');
    const ofAlice = await bus.request(CreateSession, { scope: alice, body: {} });
    const ofBob = await bus.request(CreateSession, { scope: bob, body: {} });
    expect(await reach(bob, ofAlice)).toEqual(NOT_FOUND_EVERYWHERE);
    expect(await listedIds(bob)).toEqual([ofBob.id]);
    expect(await bus.request(GetSession, { scope: alice, session_id: ofAlice.id })).toEqual(ofAlice);
    expect(await reach(alice, ofAlice)).toEqual(ALLOWED_EVERYWHERE);
  });

  it('lets an admin reach every session of its tenant', async () => {
    const tenantId = uuidv7();
    const alice = scope(tenantId, 'member');
    const admin = scope(tenantId, 'admin');
    const ofAlice = await bus.request(CreateSession, { scope: alice, body: {} });
    const ofAdmin = await bus.request(CreateSession, { scope: admin, body: {} });
    expect(await listedIds(admin)).toEqual([ofAdmin.id, ofAlice.id]);
    expect(await listedIds(alice)).toEqual([ofAlice.id]);
    expect(await reach(admin, ofAlice)).toEqual(ALLOWED_EVERYWHERE);
    // The admin's changes stay in Alice's session, which she still owns.
    const after = await bus.request(GetSession, { scope: alice, session_id: ofAlice.id });
    expect(after).toMatchObject({ owner_id: alice.principal_id, title: 'touched', status: 'archived', message_count: 1 });
    const [subSession] = (await bus.request(ListSessions, { scope: alice, query: { parent_session_id: ofAlice.id } })).data;
    expect(subSession).toMatchObject({ owner_id: alice.principal_id, parent_session_id: ofAlice.id });
  });
});
