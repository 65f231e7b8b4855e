import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  ArchiveSession,
  CreateSession,
  DomainError,
  ErrorCode,
  GetSession,
  ListSessions,
  SessionArchived,
  SessionCreated,
  SessionUpdated,
  UpdateSession,
  type CallerScope,
  type EventEnvelope,
  type PayloadOf,
  type SessionView,
} from '@runyard/contracts';
import type { InProcessBus } from '@runyard/messaging';
import { expectEventually } from '@runyard/testing';
import { v7 as uuidv7 } from 'uuid';
import { startSessionsFixture, type SessionsFixture } from '../sessions.fixture.js';

// Standalone pieces (embedded Postgres + in-process bus), called over the bus as the gateway does.
// Every test works in a tenant of its own, so tests never see each other's rows.
let fixture: SessionsFixture;
let bus: InProcessBus;
let events: EventEnvelope[];

beforeAll(async () => {
  fixture = await startSessionsFixture();
  ({ bus, events } = fixture);
}, 60_000);

afterAll(() => fixture.close());

function tenant(): { admin: CallerScope; member: (principalId?: string) => CallerScope } {
  const tenantId = uuidv7();
  return {
    admin: { tenant_id: tenantId, principal_id: uuidv7(), role: 'admin' },
    member: (principalId = uuidv7()) => ({ tenant_id: tenantId, principal_id: principalId, role: 'member' }),
  };
}

function create(scope: CallerScope, body: PayloadOf<typeof CreateSession>['body'] = {}): Promise<SessionView> {
  return bus.request(CreateSession, { scope, body });
}

async function failure(promise: Promise<unknown>): Promise<DomainError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof DomainError) return error;
    throw error;
  }
  throw new Error('expected a DomainError, got a result');
}

/** Every session of `scope` visible in pages of `limit`, and the pages' sizes. */
async function listAll(scope: CallerScope, query: PayloadOf<typeof ListSessions>['query'], limit: number): Promise<{ ids: string[]; sizes: number[] }> {
  const ids: string[] = [];
  const sizes: number[] = [];
  let cursor: string | undefined;
  do {
    const page = await bus.request(ListSessions, { scope, query: { ...query, limit, ...(cursor === undefined ? {} : { cursor }) } });
    ids.push(...page.data.map((session) => session.id));
    sizes.push(page.data.length);
    cursor = page.next_cursor ?? undefined;
  } while (cursor !== undefined);
  return { ids, sizes };
}

/** Resolves once the clock has moved past `timestamp`, so the next row gets a later created_at. */
async function clockPassed(timestamp: string): Promise<void> {
  await expectEventually(() => expect(Date.now()).toBeGreaterThan(Date.parse(timestamp)), { intervalMs: 1 });
}

function eventsAbout(sessionId: string): EventEnvelope[] {
  return events.filter((event) => event.session_id === sessionId);
}

describe('creating and reading sessions', () => {
  it('creates a session owned by the caller with every default', async () => {
    const { member } = tenant();
    const alice = member();
    const session = await create(alice);
    expect(session).toEqual({
      id: expect.any(String),
      tenant_id: alice.tenant_id,
      owner_id: alice.principal_id,
      parent_session_id: null,
      title: null,
      status: 'active',
      metadata: {},
      route_policy: null,
      reply_targets: [],
      message_count: 0,
      created_at: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/),
      updated_at: session.created_at,
      archived_at: null,
    });
    expect(await bus.request(GetSession, { scope: alice, session_id: session.id })).toEqual(session);
  });

  it('stores the title, metadata and the defaults for future runs exactly as given', async () => {
    const { member } = tenant();
    const alice = member();
    const body = {
      title: 'Quarterly report',
      metadata: { team: 'finance', nested: { depth: [1, 2] } },
      route_policy: { provider: 'anthropic', model: 'claude-sonnet-4', executor: 'echo' },
      reply_targets: [
        { channel: 'slack', address: 'C0123/1700000000.000100', metadata: { thread: true } },
        { channel: 'webhook', address: 'https://hooks.example/a' },
      ],
    };
    const created = await create(alice, body);
    expect(created).toMatchObject(body);
    expect(await bus.request(GetSession, { scope: alice, session_id: created.id })).toEqual(created);
  });

  it('answers NOT_FOUND for an unknown session', async () => {
    const { admin } = tenant();
    expect((await failure(bus.request(GetSession, { scope: admin, session_id: uuidv7() }))).code).toBe(ErrorCode.NOT_FOUND);
  });

  it('publishes SessionCreated with the view, after the session is stored', async () => {
    const { member } = tenant();
    const alice = member();
    const session = await create(alice, { title: 'evented' });
    const [event] = await expectEventually(() => {
      const found = eventsAbout(session.id);
      expect(found).toHaveLength(1);
      return found;
    });
    expect(event).toMatchObject({
      subject: SessionCreated.subject,
      tenant_id: alice.tenant_id,
      owner_id: alice.principal_id,
      session_id: session.id,
      data: session,
    });
  });
});

describe('listing sessions', () => {
  it('pages newest first through every session without duplicates or gaps', async () => {
    const { member } = tenant();
    const alice = member();
    const created: string[] = [];
    for (let i = 0; i < 7; i++) created.push((await create(alice, { title: `s${i}` })).id);
    const { ids, sizes } = await listAll(alice, {}, 3);
    expect(sizes).toEqual([3, 3, 1]);
    expect(ids).toEqual([...created].reverse());
  });

  it('gives a null next_cursor when the last page is exactly full', async () => {
    const { member } = tenant();
    const alice = member();
    for (let i = 0; i < 4; i++) await create(alice);
    const { sizes } = await listAll(alice, {}, 2);
    expect(sizes).toEqual([2, 2]);
  });

  it('pages by 50 when no limit is given', async () => {
    const { member } = tenant();
    const alice = member();
    await Promise.all(Array.from({ length: 51 }, () => create(alice)));
    const first = await bus.request(ListSessions, { scope: alice, query: {} });
    expect(first.data).toHaveLength(50);
    expect(first.next_cursor).not.toBeNull();
    const second = await bus.request(ListSessions, { scope: alice, query: { cursor: first.next_cursor! } });
    expect(second.data).toHaveLength(1);
    expect(second.next_cursor).toBeNull();
  });

  it('filters by parent session', async () => {
    const { member } = tenant();
    const alice = member();
    const parent = await create(alice);
    const first = await create(alice, { parent_session_id: parent.id });
    const second = await create(alice, { parent_session_id: parent.id });
    await create(alice, { parent_session_id: first.id });
    const { ids } = await listAll(alice, { parent_session_id: parent.id }, 10);
    expect(ids).toEqual([second.id, first.id]);
  });

  it('filters by status', async () => {
    const { member } = tenant();
    const alice = member();
    const kept = await create(alice);
    const archived = await create(alice);
    await bus.request(ArchiveSession, { scope: alice, session_id: archived.id });
    expect((await listAll(alice, { status: 'archived' }, 10)).ids).toEqual([archived.id]);
    expect((await listAll(alice, { status: 'active' }, 10)).ids).toEqual([kept.id]);
  });

  it('filters by creation time, both bounds exclusive', async () => {
    const { member } = tenant();
    const alice = member();
    const early = await create(alice);
    await clockPassed(early.created_at);
    const middle = await create(alice);
    await clockPassed(middle.created_at);
    const late = await create(alice);
    expect((await listAll(alice, { created_after: early.created_at }, 10)).ids).toEqual([late.id, middle.id]);
    expect((await listAll(alice, { created_before: late.created_at }, 10)).ids).toEqual([middle.id, early.id]);
    expect((await listAll(alice, { created_after: early.created_at, created_before: late.created_at }, 10)).ids).toEqual([middle.id]);
    // A time without an offset is UTC, like every timestamp on the wire.
    expect((await listAll(alice, { created_after: early.created_at.replace('Z', '') }, 10)).ids).toEqual([late.id, middle.id]);
  });

  it('refuses a cursor it did not issue', async () => {
    const { admin } = tenant();
    for (const cursor of ['not-a-cursor', Buffer.from(JSON.stringify({ id: 'x' })).toString('base64url')]) {
      expect((await failure(bus.request(ListSessions, { scope: admin, query: { cursor } }))).code).toBe(ErrorCode.INVALID_CURSOR);
    }
  });
});

describe('updating sessions', () => {
  it('replaces the fields given, keeps the others, clears with null and publishes SessionUpdated', async () => {
    const { member } = tenant();
    const alice = member();
    const session = await create(alice, {
      title: 'before',
      metadata: { a: 1 },
      route_policy: { model: 'm1' },
      reply_targets: [{ channel: 'slack', address: 'C1' }],
    });
    await clockPassed(session.updated_at);
    const renamed = await bus.request(UpdateSession, { scope: alice, session_id: session.id, body: { title: 'after', route_policy: null } });
    expect(renamed).toEqual({ ...session, title: 'after', route_policy: null, updated_at: expect.any(String) });
    expect(Date.parse(renamed.updated_at)).toBeGreaterThan(Date.parse(session.updated_at));

    const retargeted = await bus.request(UpdateSession, {
      scope: alice,
      session_id: session.id,
      body: { title: null, metadata: { b: 2 }, reply_targets: [], route_policy: { provider: 'p' } },
    });
    expect(retargeted).toMatchObject({ title: null, metadata: { b: 2 }, reply_targets: [], route_policy: { provider: 'p' } });
    expect(await bus.request(GetSession, { scope: alice, session_id: session.id })).toEqual(retargeted);

    const updates = await expectEventually(() => {
      const found = eventsAbout(session.id).filter((event) => event.subject === SessionUpdated.subject);
      expect(found).toHaveLength(2);
      return found;
    });
    expect(updates.map((event) => event.data)).toEqual([renamed, retargeted]);
    expect(updates[0]).toMatchObject({ tenant_id: alice.tenant_id, owner_id: alice.principal_id });
  });

  it('changes nothing and publishes nothing for a body without fields', async () => {
    const { member } = tenant();
    const alice = member();
    const session = await create(alice, { title: 'same' });
    expect(await bus.request(UpdateSession, { scope: alice, session_id: session.id, body: {} })).toEqual(session);
    // A later change's event arriving proves the empty update's would have arrived before it.
    const marker = await bus.request(UpdateSession, { scope: alice, session_id: session.id, body: { title: 'marker' } });
    await expectEventually(() => expect(eventsAbout(session.id).map((event) => event.data)).toEqual([session, marker]));
  });

  it('refuses to update an archived session', async () => {
    const { member } = tenant();
    const alice = member();
    const session = await create(alice);
    const archived = await bus.request(ArchiveSession, { scope: alice, session_id: session.id });
    const error = await failure(bus.request(UpdateSession, { scope: alice, session_id: session.id, body: { title: 'late' } }));
    expect(error.code).toBe(ErrorCode.SESSION_ARCHIVED);
    expect(await bus.request(GetSession, { scope: alice, session_id: session.id })).toEqual(archived);
  });
});

describe('archiving sessions', () => {
  it('archives once, then returns the archived session unchanged and publishes nothing more', async () => {
    const { member } = tenant();
    const alice = member();
    const session = await create(alice);
    const archived = await bus.request(ArchiveSession, { scope: alice, session_id: session.id });
    expect(archived).toEqual({ ...session, status: 'archived', archived_at: expect.any(String), updated_at: archived.archived_at });
    expect(await bus.request(ArchiveSession, { scope: alice, session_id: session.id })).toEqual(archived);
    expect(await bus.request(GetSession, { scope: alice, session_id: session.id })).toEqual(archived);

    const marker = await create(alice);
    await expectEventually(() => expect(eventsAbout(marker.id)).toHaveLength(1));
    const subjects = eventsAbout(session.id).map((event) => event.subject);
    expect(subjects).toEqual([SessionCreated.subject, SessionArchived.subject]);
    expect(eventsAbout(session.id)[1]).toMatchObject({ owner_id: alice.principal_id, data: archived });
  });
});

describe('sub-sessions', () => {
  it('belong to the parent’s owner even when an admin creates them', async () => {
    const { admin, member } = tenant();
    const alice = member();
    const parent = await create(alice);
    const child = await create(admin, { parent_session_id: parent.id, title: 'delegated' });
    expect(child).toMatchObject({ parent_session_id: parent.id, tenant_id: alice.tenant_id, owner_id: alice.principal_id });
    expect(await bus.request(GetSession, { scope: alice, session_id: child.id })).toEqual(child);
    await expectEventually(() => expect(eventsAbout(child.id)[0]).toMatchObject({ subject: SessionCreated.subject, owner_id: alice.principal_id }));
  });

  it('need a parent the caller can see', async () => {
    const { admin, member } = tenant();
    const parent = await create(member());
    const other = tenant();
    for (const scope of [member(), other.admin]) {
      expect((await failure(create(scope, { parent_session_id: parent.id }))).code).toBe(ErrorCode.NOT_FOUND);
    }
    expect((await failure(create(admin, { parent_session_id: uuidv7() }))).code).toBe(ErrorCode.NOT_FOUND);
    expect((await listAll(admin, { parent_session_id: parent.id }, 10)).ids).toEqual([]);
  });

  it('cannot be created under an archived parent', async () => {
    const { member } = tenant();
    const alice = member();
    const parent = await create(alice);
    await bus.request(ArchiveSession, { scope: alice, session_id: parent.id });
    expect((await failure(create(alice, { parent_session_id: parent.id }))).code).toBe(ErrorCode.SESSION_ARCHIVED);
    expect((await listAll(alice, { parent_session_id: parent.id }, 10)).ids).toEqual([]);
  });
});

describe('invalid payloads', () => {
  it('are refused with VALIDATION_FAILED and change nothing', async () => {
    const { admin, member } = tenant();
    const alice = member();
    const invalid: [typeof CreateSession | typeof ListSessions | typeof UpdateSession, unknown][] = [
      [CreateSession, { scope: alice, body: { title: 42 } }],
      [CreateSession, { scope: alice, body: { unexpected: true } }],
      [CreateSession, { scope: alice, body: { parent_session_id: 'not-a-uuid' } }],
      [CreateSession, { scope: alice, body: { reply_targets: [{ channel: 'slack' }] } }],
      [CreateSession, { scope: alice, body: { route_policy: { model: 'has spaces' } } }],
      [CreateSession, { scope: alice, body: { metadata: ['not', 'an', 'object'] } }],
      [CreateSession, { scope: { ...alice, role: 'owner' }, body: {} }],
      [CreateSession, { scope: { ...alice, tenant_id: 'x' }, body: {} }],
      [CreateSession, { body: {} }],
      [CreateSession, { scope: alice }],
      [ListSessions, { scope: alice }],
      [ListSessions, { scope: alice, query: { limit: 0 } }],
      [ListSessions, { scope: alice, query: { limit: 201 } }],
      [ListSessions, { scope: alice, query: { status: 'deleted' } }],
      [ListSessions, { scope: alice, query: { created_after: 'yesterday' } }],
      [UpdateSession, { scope: alice, session_id: 'nope', body: {} }],
    ];
    for (const [command, payload] of invalid) {
      const error = await failure(bus.request(command, payload as PayloadOf<typeof command>));
      expect({ payload, code: error.code }).toEqual({ payload, code: ErrorCode.VALIDATION_FAILED });
    }
    expect((await listAll(admin, {}, 10)).ids).toEqual([]);
  });
});
