import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  ArchiveSession,
  CancelRun,
  ClaimRun,
  CompleteRun,
  CreateRun,
  CreateSession,
  ErrorCode,
  ListRuns,
  RunCreated,
  type CallerScope,
  type PayloadOf,
  type RunView,
  type SessionView,
} from '@runyard/contracts';
import type { InProcessBus } from '@runyard/messaging';
import { expectEventually } from '@runyard/testing';
import { v7 as uuidv7 } from 'uuid';
import { failure, newTenant, startRunsFixture, uniqueExecutor, type RunsFixture } from '../runs.fixture.js';

// Idempotency keys enforced by the runs service itself (not only the gateway): a create with a key
// (namespaced: `api:` from the gateway, `turn:` from the sessions service) the same principal already
// used in the tenant, with the same body, returns the original run as it is now — for a late
// retry, and for concurrent duplicates, in a session (ordered by the session queue lock), under a
// parent (its row lock) and outside both (the unique index; on embedded Postgres, whose transactions
// take turns, the lookup inside the transaction already sees the winner). On embedded Postgres +
// in-process bus, as standalone mode runs.
let fixture: RunsFixture;
let bus: InProcessBus;

beforeAll(async () => {
  fixture = await startRunsFixture();
  ({ bus } = fixture);
}, 60_000);

afterAll(() => fixture.close());

type CreateBody = PayloadOf<typeof CreateRun>['body'];

function create(scope: CallerScope, body: CreateBody, idempotencyKey?: string): Promise<RunView> {
  return bus.request(CreateRun, idempotencyKey === undefined ? { scope, body } : { scope, body, idempotency_key: idempotencyKey });
}

function session(scope: CallerScope, executor = uniqueExecutor()): Promise<SessionView> {
  return bus.request(CreateSession, { scope, body: { route_policy: { executor } } });
}

async function runIds(scope: CallerScope, query: PayloadOf<typeof ListRuns>['query'] = {}): Promise<string[]> {
  return (await bus.request(ListRuns, { scope, query: { limit: 200, ...query } })).data.map((run) => run.id);
}

function createdEventsOf(runId: string): number {
  return fixture.events.filter((event) => event.subject === RunCreated.subject && event.run_id === runId).length;
}

describe('idempotency keys on run creation', () => {
  it('creates one run for concurrent duplicates in a session, whatever their busy policy', async () => {
    const { admin } = newTenant();
    for (const policy of ['enqueue', 'reject', 'interrupt'] as const) {
      const s = await session(admin);
      const runs = await Promise.all(Array.from({ length: 8 }, () => create(admin, { session_id: s.id, input: 'once', busy_policy: policy }, `api:dup-${policy}`)));
      expect(new Set(runs.map((run) => run.id)).size).toBe(1);
      expect(await runIds(admin, { session_id: s.id })).toEqual([runs[0].id]);
      // A duplicate never was refused, interrupted or queued behind the run it duplicates.
      expect(runs.map((run) => run.status)).toEqual(runs.map(() => 'pending'));
      await expectEventually(() => expect(createdEventsOf(runs[0].id)).toBe(1));
    }
  });

  it('creates one run for concurrent duplicates outside a session', async () => {
    const { admin } = newTenant();
    const runs = await Promise.all(Array.from({ length: 12 }, () => create(admin, { input: 'alone' }, 'api:dup-alone')));
    expect(new Set(runs.map((run) => run.id)).size).toBe(1);
    expect(await runIds(admin)).toEqual([runs[0].id]);
  });

  it('creates one sub-run for concurrent duplicates under one parent', async () => {
    const { admin } = newTenant();
    const parent = await create(admin, { input: 'parent' });
    const runs = await Promise.all(Array.from({ length: 8 }, () => create(admin, { parent_run_id: parent.id, input: 'child' }, 'api:dup-child')));
    expect(new Set(runs.map((run) => run.id)).size).toBe(1);
    expect(await runIds(admin, { parent_run_id: parent.id })).toEqual([runs[0].id]);
  });

  it('scopes a key to its principal: two principals with one key get two runs', async () => {
    const { admin, member } = newTenant();
    const alice = member();
    const bob = member();
    const alices = await session(alice);
    const bobs = await session(bob);
    const [a, b] = await Promise.all([create(alice, { session_id: alices.id }, 'api:shared'), create(bob, { session_id: bobs.id }, 'api:shared')]);
    expect(a.id).not.toBe(b.id);
    // The admin acting in Alice's session with the same key creates a run of its own (queued behind hers).
    const byAdmin = await create(admin, { session_id: alices.id }, 'api:shared');
    expect(byAdmin.id).not.toBe(a.id);
    expect(byAdmin).toMatchObject({ created_by: admin.principal_id, owner_id: alice.principal_id, status: 'queued' });
    expect((await runIds(admin, { session_id: alices.id })).sort()).toEqual([a.id, byAdmin.id].sort());
    // And a key means nothing across tenants.
    const other = newTenant();
    const elsewhere = await create(other.admin, {}, 'api:shared');
    expect([a.id, b.id, byAdmin.id]).not.toContain(elsewhere.id);
  });

  it('returns the original run as it is now after it completed, even to a retry that would have been refused or interrupted', async () => {
    const { admin } = newTenant();
    const executor = uniqueExecutor();
    const s = await session(admin, executor);
    const bodies = { reject: { session_id: s.id, input: 'work', busy_policy: 'reject' as const }, interrupt: { session_id: s.id, input: 'more', busy_policy: 'interrupt' as const } };
    const originals: RunView[] = [];
    for (const [key, body] of Object.entries(bodies)) {
      const original = await create(admin, body, `api:${key}`);
      const claimed = await bus.request(ClaimRun, { worker_id: 'worker-1', executors: [executor], lease_ttl_ms: 60_000 });
      expect(claimed?.run.id).toBe(original.id);
      await bus.request(CompleteRun, { tenant_id: admin.tenant_id, run_id: original.id, lease_token: claimed!.lease_token, output: { ok: key } });
      originals.push(original);
    }
    const blocker = await create(admin, { session_id: s.id, input: 'takes the slot' });

    expect(await create(admin, bodies.reject, 'api:reject')).toMatchObject({ id: originals[0].id, status: 'completed', output: { ok: 'reject' } });
    expect(await create(admin, bodies.interrupt, 'api:interrupt')).toMatchObject({ id: originals[1].id, status: 'completed', output: { ok: 'interrupt' } });
    expect((await runIds(admin, { session_id: s.id })).sort()).toEqual([...originals.map((run) => run.id), blocker.id].sort());
    expect(await runIds(admin, { session_id: s.id, status: 'pending' })).toEqual([blocker.id]);
    await expectEventually(() => expect(originals.map((run) => createdEventsOf(run.id))).toEqual([1, 1]));
  });

  it('returns the original run after it was cancelled, and after its session was archived', async () => {
    const { member } = newTenant();
    const alice = member();
    const s = await session(alice);
    const original = await create(alice, { session_id: s.id, input: 'cancel me' }, 'api:cancel-me');
    await bus.request(CancelRun, { scope: alice, run_id: original.id, body: { reason: 'no' } });
    expect(await create(alice, { session_id: s.id, input: 'cancel me' }, 'api:cancel-me')).toMatchObject({ id: original.id, status: 'cancelled' });
    await bus.request(ArchiveSession, { scope: alice, session_id: s.id });
    expect(await create(alice, { session_id: s.id, input: 'cancel me' }, 'api:cancel-me')).toMatchObject({ id: original.id, status: 'cancelled' });
    expect((await failure(create(alice, { session_id: s.id, input: 'new' }, 'api:another-key'))).code).toBe(ErrorCode.SESSION_ARCHIVED);
    expect(await runIds(alice, { session_id: s.id })).toEqual([original.id]);
  });

  it('stops at the unique index when the run holding the key is out of the caller’s sight, creating nothing', async () => {
    // The path a duplicate takes when it slipped past both lookups: its insert collides with the
    // original. Here the original is hidden (made by this principal as admin, in a member's session,
    // before the principal became a member), so both lookups miss and only the index catches it.
    const { admin, member } = newTenant();
    const owner = member();
    const theirs = await session(owner);
    const original = await create(admin, { session_id: theirs.id, input: 'as admin' }, 'api:hidden');
    const demoted: CallerScope = { ...admin, role: 'member' };
    expect((await failure(create(demoted, { input: 'as member' }, 'api:hidden'))).code).toBe(ErrorCode.IDEMPOTENCY_KEY_REUSED);
    expect(await runIds(admin)).toEqual([original.id]);
  });

  it('refuses keys without a namespace, empty, too long or not printable ASCII, creating nothing', async () => {
    const { admin } = newTenant();
    for (const key of ['', 'plain', 'other:k', 'api:', `api:${'k'.repeat(256)}`, 'api:tab\there', 'api:é', 'turn:']) {
      expect({ key, code: (await failure(create(admin, { input: 'x' }, key))).code }).toEqual({ key, code: ErrorCode.VALIDATION_FAILED });
    }
    expect(await runIds(admin)).toEqual([]);
    expect((await create(admin, { input: 'x' }, `api:${'k'.repeat(255)}`)).status).toBe('pending');
    expect((await create(admin, { input: 'x' }, `turn:${uuidv7()}`)).status).toBe('pending');
  });

  it('answers a retry with the same body (in any member order) with the original run, and refuses the key with another body', async () => {
    const { admin } = newTenant();
    const s = await session(admin);
    const original = await create(admin, { session_id: s.id, input: 'same', metadata: { a: 1, b: { c: 2, d: 3 } } }, 'api:body');
    const retried = await create(admin, { metadata: { b: { d: 3, c: 2 }, a: 1 }, input: 'same', session_id: s.id }, 'api:body');
    expect(retried).toEqual(original);
    for (const other of [{ session_id: s.id, input: 'other' }, { session_id: s.id, input: 'same' }, { session_id: s.id, input: 'same', metadata: { a: 1, b: { c: 2, d: 3 } }, busy_policy: 'reject' as const }]) {
      expect((await failure(create(admin, other, 'api:body'))).code).toBe(ErrorCode.IDEMPOTENCY_KEY_REUSED);
    }
    expect(await runIds(admin)).toEqual([original.id]);
    await expectEventually(() => expect(createdEventsOf(original.id)).toBe(1));
  });
});
