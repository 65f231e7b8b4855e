import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  CancelRun,
  ClaimRun,
  CompleteRun,
  CreateRun,
  CreateSession,
  ErrorCode,
  FinishCancel,
  GetRun,
  ListRuns,
  RunCreated,
  RunStatusChanged,
  type CallerScope,
  type ClaimedRun,
  type EventEnvelope,
  type PayloadOf,
  type RunStatusChangedData,
  type RunView,
  type SessionView,
} from '@runyard/contracts';
import type { InProcessBus } from '@runyard/messaging';
import { expectEventually } from '@runyard/testing';
import { v7 as uuidv7 } from 'uuid';
import { failure, newTenant, startRunsFixture, uniqueExecutor, type RunsFixture } from '../runs.fixture.js';

// Run creation, the session slot and its queue, busy policies, cancellation and TTLs, on standalone
// pieces (embedded Postgres + in-process bus) next to the real sessions service, called over the bus
// as the gateway and workers do. Every test works in tenants and executors of its own.
let fixture: RunsFixture;
let bus: InProcessBus;

beforeAll(async () => {
  fixture = await startRunsFixture();
  ({ bus } = fixture);
}, 60_000);

afterAll(() => fixture.close());

type CreateBody = PayloadOf<typeof CreateRun>['body'];

function session(scope: CallerScope, body: PayloadOf<typeof CreateSession>['body'] = {}): Promise<SessionView> {
  return bus.request(CreateSession, { scope, body });
}

function create(scope: CallerScope, body: CreateBody): Promise<RunView> {
  return bus.request(CreateRun, { scope, body });
}

function get(scope: CallerScope, runId: string): Promise<RunView> {
  return bus.request(GetRun, { scope, run_id: runId });
}

async function claim(executor: string): Promise<ClaimedRun> {
  const claimed = await bus.request(ClaimRun, { worker_id: 'worker-1', executors: [executor], lease_ttl_ms: 60_000 });
  if (claimed === null) throw new Error(`nothing pending for ${executor}`);
  return claimed;
}

function complete(claimed: ClaimedRun): Promise<RunView> {
  return bus.request(CompleteRun, { tenant_id: claimed.run.tenant_id, run_id: claimed.run.id, lease_token: claimed.lease_token, output: { answer: 42 } });
}

async function statuses(scope: CallerScope, runs: RunView[]): Promise<string[]> {
  return Promise.all(runs.map(async (run) => (await get(scope, run.id)).status));
}

async function positions(scope: CallerScope, runs: RunView[]): Promise<(number | null)[]> {
  return Promise.all(runs.map(async (run) => (await get(scope, run.id)).queue_position));
}

function statusChanges(runId: string): RunStatusChangedData[] {
  return fixture.events
    .filter((event): event is EventEnvelope<RunStatusChangedData> => event.subject === RunStatusChanged.subject && event.run_id === runId)
    .map((event) => event.data);
}

/** A session whose runs go to an executor of this test's own. */
async function workSession(scope: CallerScope): Promise<{ session: SessionView; executor: string }> {
  const executor = uniqueExecutor();
  return { session: await session(scope, { route_policy: { executor } }), executor };
}

describe('creating runs', () => {
  it('makes a run in an idle session pending, pinned to its source, route and the session’s reply targets', async () => {
    const { admin } = newTenant();
    const s = await session(admin, { reply_targets: [{ channel: 'slack', address: 'C1' }] });
    const run = await create(admin, { session_id: s.id, input: 'hello', source: 'chat', metadata: { k: 'v' } });
    expect(run).toMatchObject({
      session_id: s.id,
      owner_id: admin.principal_id,
      created_by: admin.principal_id,
      status: 'pending',
      queue_position: null,
      source: 'chat',
      input: 'hello',
      input_items: null,
      route: { executor: 'echo' },
      route_source: 'default',
      reply_targets: [{ channel: 'slack', address: 'C1' }],
      metadata: { k: 'v' },
      attempt: 0,
      max_attempts: 3,
      worker_id: null,
    });
    expect(await get(admin, run.id)).toEqual(run);
    await expectEventually(() => expect(fixture.events.find((event) => event.subject === RunCreated.subject && event.run_id === run.id)).toMatchObject({
      tenant_id: admin.tenant_id,
      owner_id: admin.principal_id,
      session_id: s.id,
      data: run,
    }));
  });

  it('pins the route by precedence: the run’s override, else the session’s policy, else the deployment default', async () => {
    const { admin } = newTenant();
    const withPolicy = await session(admin, { route_policy: { provider: 'anthropic', model: 'claude', executor: 'agent' } });
    const withoutPolicy = await session(admin);
    const override = await create(admin, { session_id: withPolicy.id, route: { model: 'other-model' } });
    const fromSession = await create(admin, { parent_run_id: override.id });
    const fromDefault = await create(admin, { session_id: withoutPolicy.id });
    expect([override, fromSession, fromDefault].map((run) => [run.route, run.route_source])).toEqual([
      [{ model: 'other-model', executor: 'echo' }, 'run'],
      [{ provider: 'anthropic', model: 'claude', executor: 'agent' }, 'session'],
      [{ executor: 'echo' }, 'default'],
    ]);
  });

  it('refuses bad input and creates nothing', async () => {
    const { admin } = newTenant();
    const bad: CreateBody[] = [
      { input: 'a', input_items: [{ type: 'text', text: 'b' }] },
      { max_attempts: 11 },
      { max_attempts: 0 },
      { busy_policy: 'wait' as never },
      { source: 'email' as never },
      { route: { executor: 'has spaces' } },
    ];
    for (const body of bad) expect({ body, code: (await failure(create(admin, body))).code }).toEqual({ body, code: ErrorCode.VALIDATION_FAILED });
    const listBad = await failure(bus.request(ListRuns, { scope: admin, query: { status: 'pending,done' } }));
    expect(listBad.code).toBe(ErrorCode.VALIDATION_FAILED);
    expect((await bus.request(ListRuns, { scope: admin, query: {} })).data).toEqual([]);
  });

  it('answers NOT_FOUND for a session that does not exist', async () => {
    const { admin } = newTenant();
    expect((await failure(create(admin, { session_id: uuidv7() }))).code).toBe(ErrorCode.NOT_FOUND);
  });
});

describe('the session slot and its queue', () => {
  it('queues runs behind the active one in order, with visible positions', async () => {
    const { admin } = newTenant();
    const s = await session(admin);
    const first = await create(admin, { session_id: s.id });
    const second = await create(admin, { session_id: s.id });
    const third = await create(admin, { session_id: s.id, busy_policy: 'enqueue' });
    expect([first, second, third].map((run) => [run.status, run.queue_position])).toEqual([
      ['pending', null],
      ['queued', 1],
      ['queued', 2],
    ]);
    const listed = await bus.request(ListRuns, { scope: admin, query: { session_id: s.id, status: 'queued,pending' } });
    expect(listed.data.map((run) => [run.id, run.queue_position])).toEqual([
      [third.id, 2],
      [second.id, 1],
      [first.id, null],
    ]);
  });

  it('rejects a run in a busy session with SESSION_BUSY under the reject policy, and creates nothing', async () => {
    const { admin } = newTenant();
    const s = await session(admin);
    await create(admin, { session_id: s.id });
    expect((await failure(create(admin, { session_id: s.id, busy_policy: 'reject' }))).code).toBe(ErrorCode.SESSION_BUSY);
    expect((await bus.request(ListRuns, { scope: admin, query: { session_id: s.id } })).data).toHaveLength(1);
  });

  it('promotes the next queued run in the same transaction that ends the active one', async () => {
    const { admin } = newTenant();
    const { session: s, executor } = await workSession(admin);
    const first = await create(admin, { session_id: s.id });
    const second = await create(admin, { session_id: s.id });
    const third = await create(admin, { session_id: s.id });
    const completed = await complete(await claim(executor));
    expect(completed).toMatchObject({ id: first.id, status: 'completed', output: { answer: 42 } });
    // Already pending when the completion is answered: no moment without an active run, none with two.
    expect(await statuses(admin, [first, second, third])).toEqual(['completed', 'pending', 'queued']);
    expect(await positions(admin, [third])).toEqual([1]);
    await expectEventually(() => expect(statusChanges(second.id)).toHaveLength(1));
    const completedAt = fixture.events.findIndex((event) => event.run_id === first.id && (event.data as RunStatusChangedData).to === 'completed');
    const promotedAt = fixture.events.findIndex((event) => event.run_id === second.id && event.subject === RunStatusChanged.subject);
    expect(completedAt).toBeGreaterThanOrEqual(0);
    expect(promotedAt).toBeGreaterThan(completedAt);
    expect(statusChanges(second.id)).toEqual([expect.objectContaining({ from: 'queued', to: 'pending' })]);
  });

  it('keeps a second active top-level run out of a session at the database level too', async () => {
    const { admin } = newTenant();
    const s = await session(admin);
    await create(admin, { session_id: s.id });
    const queued = await create(admin, { session_id: s.id });
    await expect(fixture.dataSource.query(`UPDATE runs SET status = 'pending' WHERE id = $1`, [queued.id])).rejects.toThrow(/runs_one_active_per_session_idx/);
    expect((await get(admin, queued.id)).status).toBe('queued');
  });

  it('lets sub-runs start beside the active run: they do not take the slot', async () => {
    const { admin } = newTenant();
    const s = await session(admin);
    const parent = await create(admin, { session_id: s.id });
    const child = await create(admin, { parent_run_id: parent.id, source: 'subagent' });
    const grandchild = await create(admin, { parent_run_id: child.id, session_id: s.id });
    expect([child, grandchild].map((run) => [run.status, run.session_id, run.parent_run_id])).toEqual([
      ['pending', s.id, parent.id],
      ['pending', s.id, child.id],
    ]);
    expect((await failure(create(admin, { parent_run_id: parent.id, session_id: (await session(admin)).id }))).code).toBe(ErrorCode.VALIDATION_FAILED);
  });

  it('interrupts a pending active run: it is cancelled and the new run takes the slot ahead of the queue', async () => {
    const { admin } = newTenant();
    const s = await session(admin);
    const active = await create(admin, { session_id: s.id });
    const waiting = await create(admin, { session_id: s.id });
    const interrupter = await create(admin, { session_id: s.id, busy_policy: 'interrupt' });
    expect(interrupter.status).toBe('pending');
    expect(await get(admin, active.id)).toMatchObject({ status: 'cancelled', cancelled_by: admin.principal_id, cancel_reason: `interrupted by run ${interrupter.id}` });
    expect(await positions(admin, [waiting])).toEqual([1]);
  });

  it('interrupts a running active run: it goes to cancelling, and the new run is next once the worker stops', async () => {
    const { admin } = newTenant();
    const { session: s, executor } = await workSession(admin);
    await create(admin, { session_id: s.id });
    const claimed = await claim(executor);
    const waiting = await create(admin, { session_id: s.id });
    const interrupter = await create(admin, { session_id: s.id, busy_policy: 'interrupt' });
    expect(interrupter).toMatchObject({ status: 'queued', queue_position: 1 });
    expect(await positions(admin, [waiting])).toEqual([2]);
    expect((await get(admin, claimed.run.id)).status).toBe('cancelling');

    const stopped = await bus.request(FinishCancel, { tenant_id: admin.tenant_id, run_id: claimed.run.id, lease_token: claimed.lease_token });
    expect(stopped.status).toBe('cancelled');
    expect(await statuses(admin, [interrupter, waiting])).toEqual(['pending', 'queued']);
  });
});

describe('cancelling', () => {
  it('cancels queued and pending runs at once, moves the queue on, and is idempotent', async () => {
    const { admin, member } = newTenant();
    const alice = member();
    const s = await session(alice);
    const active = await create(alice, { session_id: s.id });
    const second = await create(alice, { session_id: s.id });
    const third = await create(alice, { session_id: s.id });

    const cancelledQueued = await bus.request(CancelRun, { scope: admin, run_id: second.id, body: { reason: 'not needed' } });
    expect(cancelledQueued).toMatchObject({ status: 'cancelled', cancel_reason: 'not needed', cancelled_by: admin.principal_id, queue_position: null });
    expect(await statuses(alice, [active, third])).toEqual(['pending', 'queued']);
    expect(await positions(alice, [third])).toEqual([1]);

    const cancelledActive = await bus.request(CancelRun, { scope: alice, run_id: active.id, body: {} });
    expect(cancelledActive).toMatchObject({ status: 'cancelled', cancel_reason: null, cancelled_by: alice.principal_id });
    expect((await get(alice, third.id)).status).toBe('pending');

    const again = await bus.request(CancelRun, { scope: alice, run_id: active.id, body: { reason: 'twice' } });
    expect(again).toEqual(await get(alice, active.id));
    expect(again.cancel_reason).toBeNull();
    await expectEventually(() => expect(statusChanges(third.id)).toHaveLength(1));
    expect(statusChanges(active.id).map((change) => change.to)).toEqual(['cancelled']);
  });

  it('moves a running run to cancelling until its worker stops it', async () => {
    const { admin } = newTenant();
    const { session: s, executor } = await workSession(admin);
    const run = await create(admin, { session_id: s.id });
    const next = await create(admin, { session_id: s.id });
    const claimed = await claim(executor);
    expect((await bus.request(CancelRun, { scope: admin, run_id: run.id, body: {} })).status).toBe('cancelling');
    // Still holding the slot while the worker stops.
    expect((await get(admin, next.id)).status).toBe('queued');
    expect((await bus.request(CancelRun, { scope: admin, run_id: run.id, body: {} })).status).toBe('cancelling');
    await bus.request(FinishCancel, { tenant_id: admin.tenant_id, run_id: run.id, lease_token: claimed.lease_token });
    expect(await statuses(admin, [run, next])).toEqual(['cancelled', 'pending']);
  });

  it('cascades to unfinished sub-runs, at every depth, and leaves finished ones alone', async () => {
    const { admin } = newTenant();
    const executor = uniqueExecutor();
    const s = await session(admin);
    const parent = await create(admin, { session_id: s.id });
    const done = await create(admin, { parent_run_id: parent.id, route: { executor } });
    await complete(await claim(executor));
    const running = await create(admin, { parent_run_id: parent.id, route: { executor } });
    await claim(executor);
    const pending = await create(admin, { parent_run_id: parent.id });
    const grandchild = await create(admin, { parent_run_id: pending.id });

    await bus.request(CancelRun, { scope: admin, run_id: parent.id, body: { reason: 'stop all' } });
    expect(await statuses(admin, [parent, done, running, pending, grandchild])).toEqual(['cancelled', 'completed', 'cancelling', 'cancelled', 'cancelled']);
    expect(await get(admin, grandchild.id)).toMatchObject({ cancel_reason: `parent run ${pending.id} cancelled`, cancelled_by: admin.principal_id });
    expect((await failure(create(admin, { parent_run_id: parent.id }))).code).toBe(ErrorCode.RUN_TERMINAL);
  });

  it('refuses to cancel a run that ended otherwise, with RUN_TERMINAL, and changes nothing', async () => {
    const { admin } = newTenant();
    const executor = uniqueExecutor();
    const run = await create(admin, { route: { executor } });
    const completed = await complete(await claim(executor));
    expect((await failure(bus.request(CancelRun, { scope: admin, run_id: run.id, body: {} }))).code).toBe(ErrorCode.RUN_TERMINAL);
    expect(await get(admin, run.id)).toEqual(completed);
  });
});

describe('time to live', () => {
  it('expires queued and pending runs past their TTL, and the queue moves on', async () => {
    const { admin } = newTenant();
    const s = await session(admin);
    const active = await create(admin, { session_id: s.id, ttl_seconds: 1 });
    const queued = await create(admin, { session_id: s.id, ttl_seconds: 1 });
    const lasting = await create(admin, { session_id: s.id });
    expect(Date.parse(active.expires_at as string) - Date.parse(active.created_at)).toBe(1000);
    await expectEventually(() => expect(statuses(admin, [active, queued, lasting])).resolves.toEqual(['expired', 'expired', 'pending']), { timeoutMs: 5000 });
    await expectEventually(() => expect(statusChanges(active.id)).toEqual([expect.objectContaining({ from: 'pending', to: 'expired' })]));
    expect((await get(admin, active.id)).finished_at).not.toBeNull();
  });
});

describe('events', () => {
  it('publishes a status change for every transition of a run, after its creation', async () => {
    const { admin } = newTenant();
    const executor = uniqueExecutor();
    const run = await create(admin, { route: { executor } });
    const claimed = await claim(executor);
    const done = await complete(claimed);
    await expectEventually(() => expect(statusChanges(run.id)).toHaveLength(2));
    expect(statusChanges(run.id)).toEqual([
      { run: claimed.run, from: 'pending', to: 'running' },
      { run: done, from: 'running', to: 'completed' },
    ]);
    const subjects = fixture.events.filter((event) => event.run_id === run.id).map((event) => event.subject);
    expect(subjects).toEqual([RunCreated.subject, RunStatusChanged.subject, RunStatusChanged.subject]);
  });
});
