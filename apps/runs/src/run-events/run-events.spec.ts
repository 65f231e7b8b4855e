import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  CancelRun,
  CompleteRun,
  CreateSession,
  ErrorCode,
  ListRunEvents,
  PlanStepAdded,
  PostRunMessage,
  ReportProgress,
  RunCreated,
  RunMessagePosted,
  RunProgressed,
  RunStatusChanged,
  UpsertPlanStep,
  type CallerScope,
  type EventEnvelope,
  type PayloadOf,
} from '@runyard/contracts';
import type { InProcessBus } from '@runyard/messaging';
import { expectEventually } from '@runyard/testing';
import { executorCalls, lease, outcome } from '../executor-calls.fixture.js';
import { failure, newTenant, startRunsFixture, uniqueExecutor, type RunsFixture } from '../runs.fixture.js';

// A run's event history (read from the service's outbox, in commit order), and what an executor
// tells watchers without changing the run: progress and chat messages for its session.
let fixture: RunsFixture;
let bus: InProcessBus;
let calls: ReturnType<typeof executorCalls>;

beforeAll(async () => {
  fixture = await startRunsFixture();
  ({ bus } = fixture);
  calls = executorCalls(bus);
}, 60_000);

afterAll(() => fixture.close());

function listEvents(scope: CallerScope, runId: string, query: PayloadOf<typeof ListRunEvents>['query'] = {}) {
  return bus.request(ListRunEvents, { scope, run_id: runId, query });
}

async function allEvents(scope: CallerScope, runId: string, limit: number): Promise<EventEnvelope[]> {
  const events: EventEnvelope[] = [];
  let cursor: string | undefined;
  do {
    const page = await listEvents(scope, runId, { limit, cursor });
    expect(page.data.length).toBeLessThanOrEqual(limit);
    events.push(...page.data);
    cursor = page.next_cursor ?? undefined;
  } while (cursor !== undefined);
  return events;
}

describe('the event history of a run', () => {
  it('lists exactly the run’s events, oldest first, the same in pages as in one page, as they were published', async () => {
    const { admin } = newTenant();
    const executor = uniqueExecutor();
    const session = await bus.request(CreateSession, { scope: admin, body: { route_policy: { executor } } });
    const run = await calls.create(admin, { session_id: session.id });
    const neighbour = await calls.create(admin, { route: { executor: uniqueExecutor() } });
    const claimed = await calls.claimOne(executor);
    const held = lease(claimed);
    await bus.request(UpsertPlanStep, { ...held, key: 'one', title: 'One' });
    await bus.request(ReportProgress, { ...held, message: 'halfway', data: { percent: 50 } });
    await bus.request(PostRunMessage, { ...held, key: 'reply-1', content: 'Here you go' });
    await bus.request(CompleteRun, held);

    const history = await allEvents(admin, run.id, 200);
    expect(history.map((event) => event.subject)).toEqual([
      RunCreated.subject,
      RunStatusChanged.subject,
      PlanStepAdded.subject,
      RunProgressed.subject,
      RunMessagePosted.subject,
      RunStatusChanged.subject,
    ]);
    expect(history.every((event) => event.run_id === run.id && event.tenant_id === admin.tenant_id)).toBe(true);
    expect(await allEvents(admin, run.id, 2)).toEqual(history);
    expect(await allEvents(admin, run.id, 1)).toEqual(history);
    await expectEventually(() => expect(fixture.events.filter((event) => event.run_id === run.id)).toEqual(history));
    expect((await listEvents(admin, neighbour.id)).data.map((event) => event.subject)).toEqual([RunCreated.subject]);
  });

  it('shows the history to the run’s owner and admins only; anyone else gets NOT_FOUND; a forged cursor gets INVALID_CURSOR', async () => {
    const tenant = newTenant();
    const owner = tenant.member();
    const session = await bus.request(CreateSession, { scope: owner, body: {} });
    const run = await calls.create(owner, { session_id: session.id });
    expect((await listEvents(owner, run.id)).data).toHaveLength(1);
    expect((await listEvents(tenant.admin, run.id)).data).toHaveLength(1);
    for (const outsider of [tenant.member(), newTenant().admin, newTenant().member(owner.principal_id)]) {
      expect(await outcome(listEvents(outsider, run.id))).toBe(ErrorCode.NOT_FOUND);
    }
    for (const cursor of ['garbage', Buffer.from(JSON.stringify({ position: '1 OR 1=1' })).toString('base64url'), Buffer.from(JSON.stringify({ position: 3 })).toString('base64url')]) {
      expect(await outcome(listEvents(owner, run.id, { cursor }))).toBe(ErrorCode.INVALID_CURSOR);
    }
  });
});

describe('progress and messages', () => {
  it('publishes progress without changing the run', async () => {
    const { admin } = newTenant();
    const executor = uniqueExecutor();
    const run = await calls.create(admin, { route: { executor } });
    const claimed = await calls.claimOne(executor);
    const before = await calls.get(admin, run.id);
    expect(await bus.request(ReportProgress, { ...lease(claimed), message: 'step 1 of 3' })).toBeNull();
    expect(await bus.request(ReportProgress, { ...lease(claimed), data: { done: 2, of: 3 } })).toBeNull();
    expect(await calls.get(admin, run.id)).toEqual(before);
    await expectEventually(() =>
      expect(fixture.events.filter((event) => event.run_id === run.id && event.subject === RunProgressed.subject).map((event) => event.data)).toEqual([
        { run_id: run.id, message: 'step 1 of 3', data: null },
        { run_id: run.id, message: null, data: { done: 2, of: 3 } },
      ]),
    );
  });

  it('publishes a message for the run’s session, and refuses one from a run outside a session', async () => {
    const { admin } = newTenant();
    const executor = uniqueExecutor();
    const session = await bus.request(CreateSession, { scope: admin, body: { route_policy: { executor } } });
    const run = await calls.create(admin, { session_id: session.id });
    const claimed = await calls.claimOne(executor);
    await bus.request(PostRunMessage, { ...lease(claimed), key: 'answer', content: 'Done.', metadata: { model: 'm' } });
    await expectEventually(() =>
      expect(fixture.events.find((event) => event.run_id === run.id && event.subject === RunMessagePosted.subject)).toMatchObject({
        session_id: session.id,
        owner_id: admin.principal_id,
        data: { run_id: run.id, session_id: session.id, key: 'answer', content: 'Done.', metadata: { model: 'm' } },
      }),
    );

    const loose = await calls.create(admin, { route: { executor } });
    const looseClaim = await calls.claimOne(executor);
    expect(looseClaim.run.id).toBe(loose.id);
    const error = await failure(bus.request(PostRunMessage, { ...lease(looseClaim), key: 'answer', content: 'Nobody reads this' }));
    expect(error.code).toBe(ErrorCode.VALIDATION_FAILED);
    expect((await listEvents(admin, loose.id)).data.map((event) => event.subject)).toEqual([RunCreated.subject, RunStatusChanged.subject]);
  });

  it('refuses progress and messages from a stale lease (LEASE_LOST), a cancelling run (CONFLICT) and an ended run (RUN_TERMINAL)', async () => {
    const { admin } = newTenant();
    const executor = uniqueExecutor();
    const session = await bus.request(CreateSession, { scope: admin, body: { route_policy: { executor } } });
    const run = await calls.create(admin, { session_id: session.id });
    const claimed = await calls.claimOne(executor);
    const writes = async (held: ReturnType<typeof lease>) => ({
      progress: await outcome(bus.request(ReportProgress, { ...held, message: 'x' })),
      message: await outcome(bus.request(PostRunMessage, { ...held, key: 'k', content: 'x' })),
    });
    expect(await writes(lease(claimed, claimed.lease_token + 1))).toEqual({ progress: ErrorCode.LEASE_LOST, message: ErrorCode.LEASE_LOST });
    await bus.request(CancelRun, { scope: admin, run_id: run.id, body: {} });
    const count = (await listEvents(admin, run.id)).data.length;
    expect(await writes(lease(claimed))).toEqual({ progress: ErrorCode.CONFLICT, message: ErrorCode.CONFLICT });
    await expectEventually(() => expect(calls.get(admin, run.id)).resolves.toMatchObject({ status: 'cancelled' }), { timeoutMs: 5000 });
    const ended = (await listEvents(admin, run.id)).data.length;
    expect(ended).toBe(count + 1); // only the sweeper's cancelled
    expect(await writes(lease(claimed))).toEqual({ progress: ErrorCode.RUN_TERMINAL, message: ErrorCode.RUN_TERMINAL });
    expect((await listEvents(admin, run.id)).data).toHaveLength(ended);
  });
});
