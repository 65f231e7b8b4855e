import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CancelRun, CreateRun, CreateSession, ErrorCode, GetRun, ListRuns, type CallerScope, type RunView } from '@runyard/contracts';
import type { InProcessBus } from '@runyard/messaging';
import { failure, newTenant, startRunsFixture, type RunsFixture } from './runs.fixture.js';

// Who may see and change which runs: a tenant sees nothing of another tenant, a member only the runs
// of its own sessions (and its own session-less runs), an admin its whole tenant. Anything out of
// reach is NOT_FOUND, never FORBIDDEN.
let fixture: RunsFixture;
let bus: InProcessBus;

beforeAll(async () => {
  fixture = await startRunsFixture();
  ({ bus } = fixture);
}, 60_000);

afterAll(() => fixture.close());

async function code(promise: Promise<unknown>): Promise<ErrorCode | 'ok'> {
  return promise.then(
    () => 'ok' as const,
    async () => (await failure(promise)).code,
  );
}

/** What `caller` gets from every command on `run`, cancel last so the others see it as it was. */
async function reach(caller: CallerScope, run: RunView): Promise<Record<string, ErrorCode | 'ok'>> {
  return {
    get: await code(bus.request(GetRun, { scope: caller, run_id: run.id })),
    createInSession: await code(bus.request(CreateRun, { scope: caller, body: { session_id: run.session_id as string } })),
    createSubRun: await code(bus.request(CreateRun, { scope: caller, body: { parent_run_id: run.id } })),
    cancel: await code(bus.request(CancelRun, { scope: caller, run_id: run.id, body: {} })),
  };
}

async function listedIds(caller: CallerScope): Promise<string[]> {
  return (await bus.request(ListRuns, { scope: caller, query: { limit: 200 } })).data.map((run) => run.id);
}

const NOT_FOUND_EVERYWHERE = { get: ErrorCode.NOT_FOUND, createInSession: ErrorCode.NOT_FOUND, createSubRun: ErrorCode.NOT_FOUND, cancel: ErrorCode.NOT_FOUND };

async function runInOwnSession(scope: CallerScope): Promise<RunView> {
  const session = await bus.request(CreateSession, { scope, body: {} });
  return bus.request(CreateRun, { scope, body: { session_id: session.id } });
}

describe('tenant isolation', () => {
  it('hides a run from every principal of another tenant, admins included', async () => {
    const a = newTenant();
    const b = newTenant();
    const owner = a.member();
    const run = await runInOwnSession(owner);
    for (const outsider of [b.admin, b.member(owner.principal_id)]) {
      expect(await reach(outsider, run)).toEqual(NOT_FOUND_EVERYWHERE);
      expect(await listedIds(outsider)).toEqual([]);
    }
    expect(await bus.request(GetRun, { scope: owner, run_id: run.id })).toEqual(run);
    expect(await listedIds(owner)).toEqual([run.id]);
  });
});

describe('ownership within a tenant', () => {
  it('lets a member reach only the runs it owns', async () => {
    const { member } = newTenant();
    const alice = member();
    const bob = member();
    const ofAlice = await runInOwnSession(alice);
    const ofBob = await bus.request(CreateRun, { scope: bob, body: { input: 'no session' } });
    expect(await reach(bob, ofAlice)).toEqual(NOT_FOUND_EVERYWHERE);
    expect(await listedIds(bob)).toEqual([ofBob.id]);
    expect(await listedIds(alice)).toEqual([ofAlice.id]);
    expect(await bus.request(GetRun, { scope: alice, run_id: ofAlice.id })).toEqual(ofAlice);
  });

  it('lets an admin reach every run of its tenant, and the runs it makes in a member’s session belong to that member', async () => {
    const { admin, member } = newTenant();
    const alice = member();
    const ofAlice = await runInOwnSession(alice);
    const byAdmin = await bus.request(CreateRun, { scope: admin, body: { session_id: ofAlice.session_id as string } });
    expect(byAdmin).toMatchObject({ owner_id: alice.principal_id, created_by: admin.principal_id, status: 'queued' });
    expect(await listedIds(alice)).toEqual([byAdmin.id, ofAlice.id]);
    expect(await reach(admin, ofAlice)).toEqual({ get: 'ok', createInSession: 'ok', createSubRun: 'ok', cancel: 'ok' });
    expect((await bus.request(GetRun, { scope: alice, run_id: ofAlice.id })).status).toBe('cancelled');
  });
});
