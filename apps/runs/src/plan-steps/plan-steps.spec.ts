import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  CancelRun,
  CompleteRun,
  CreateSession,
  ErrorCode,
  ListPlanSteps,
  PLAN_STEP_EVIDENCE_MAX,
  PLAN_STEPS_PER_RUN_MAX,
  PlanStepAdded,
  PlanStepUpdated,
  RequestWait,
  UpsertPlanStep,
  type CallerScope,
  type PayloadOf,
  type PlanStepView,
} from '@runyard/contracts';
import type { InProcessBus } from '@runyard/messaging';
import { expectEventually } from '@runyard/testing';
import { executorCalls, lease, outcome, type LeaseFields } from '../executor-calls.fixture.js';
import { failure, newTenant, startRunsFixture, uniqueExecutor, type RunsFixture } from '../runs.fixture.js';
import { PLAN_STEP_EVIDENCE_BYTES_PER_RUN_MAX } from './plan-steps.service.js';

// Plan steps: the executor adds and updates them under its lease (fenced like every worker write),
// principals read them in position order, and a claim hands them back to the next attempt.
let fixture: RunsFixture;
let bus: InProcessBus;
let calls: ReturnType<typeof executorCalls>;

beforeAll(async () => {
  fixture = await startRunsFixture();
  ({ bus } = fixture);
  calls = executorCalls(bus);
}, 60_000);

afterAll(() => fixture.close());

type StepFields = Omit<PayloadOf<typeof UpsertPlanStep>, keyof LeaseFields>;

function upsert(held: LeaseFields, fields: StepFields): Promise<PlanStepView> {
  return bus.request(UpsertPlanStep, { ...held, ...fields });
}

function list(scope: CallerScope, runId: string, query: PayloadOf<typeof ListPlanSteps>['query'] = {}) {
  return bus.request(ListPlanSteps, { scope, run_id: runId, query });
}

/** The run's rows as stored and how many events its outbox holds: what "nothing changed" compares. */
async function stored(runId: string): Promise<{ steps: unknown[]; events: number }> {
  const steps = await fixture.dataSource.query<unknown[]>(`SELECT * FROM plan_steps WHERE run_id = $1 ORDER BY position`, [runId]);
  const [{ count }] = await fixture.dataSource.query<{ count: string }[]>(`SELECT count(*) AS count FROM outbox_events WHERE envelope ->> 'run_id' = $1`, [runId]);
  return { steps, events: Number(count) };
}

async function runningRun(scope: CallerScope) {
  const executor = uniqueExecutor();
  await calls.create(scope, { route: { executor } });
  return { executor, claimed: await calls.claimOne(executor) };
}

describe('upserting plan steps', () => {
  it('adds steps in the order their keys first appear, replaces title and status, appends evidence, and publishes each change', async () => {
    const { admin } = newTenant();
    const { claimed } = await runningRun(admin);
    const held = lease(claimed);

    const search = await upsert(held, { key: 'search', title: 'Search the docs' });
    const write = await upsert(held, { key: 'write', title: 'Write the answer', status: 'pending', evidence: [{ kind: 'text', text: 'outline' }] });
    expect(search).toMatchObject({ run_id: claimed.run.id, tenant_id: admin.tenant_id, key: 'search', position: 1, title: 'Search the docs', status: 'pending', evidence: [] });
    expect(write).toMatchObject({ key: 'write', position: 2, evidence: [{ kind: 'text', text: 'outline' }] });

    const started = await upsert(held, { key: 'search', status: 'in_progress', evidence: [{ kind: 'link', url: 'https://example.com/a' }] });
    const done = await upsert(held, { key: 'search', status: 'completed', title: 'Searched the docs', evidence: [{ kind: 'tool_output', data: { hits: 3 } }] });
    expect(started).toMatchObject({ id: search.id, position: 1, status: 'in_progress', evidence: [{ kind: 'link', url: 'https://example.com/a' }] });
    expect(done).toMatchObject({
      id: search.id,
      position: 1,
      title: 'Searched the docs',
      status: 'completed',
      evidence: [
        { kind: 'link', url: 'https://example.com/a' },
        { kind: 'tool_output', data: { hits: 3 } },
      ],
    });
    // Nothing new: no write, no event.
    const eventsBefore = (await stored(claimed.run.id)).events;
    expect(await upsert(held, { key: 'search', status: 'completed' })).toEqual(done);
    expect((await stored(claimed.run.id)).events).toBe(eventsBefore);

    expect((await list(admin, claimed.run.id)).data).toEqual([done, write]);
    await expectEventually(() => {
      const published = fixture.events.filter((event) => event.run_id === claimed.run.id && event.subject.startsWith('runs.evt.plan_step.'));
      expect(published.map((event) => [event.subject, event.data])).toEqual([
        [PlanStepAdded.subject, search],
        [PlanStepAdded.subject, write],
        [PlanStepUpdated.subject, started],
        [PlanStepUpdated.subject, done],
      ]);
      expect(published[0]).toMatchObject({ tenant_id: admin.tenant_id, owner_id: admin.principal_id });
    });
  });

  it('needs a title for a new step, and changes nothing when it is missing', async () => {
    const { admin } = newTenant();
    const { claimed } = await runningRun(admin);
    const error = await failure(upsert(lease(claimed), { key: 'untitled', status: 'in_progress' }));
    expect(error.code).toBe(ErrorCode.VALIDATION_FAILED);
    expect(error.details?.errors).toEqual([{ field: 'title', message: expect.any(String) }]);
    expect(await stored(claimed.run.id)).toEqual({ steps: [], events: 1 + 1 }); // created, claimed
  });

  it('refuses a step past the per-run maximum and evidence past the per-step maximum, with VALIDATION_FAILED', async () => {
    const { admin } = newTenant();
    const { claimed } = await runningRun(admin);
    const held = lease(claimed);
    for (let i = 1; i <= PLAN_STEPS_PER_RUN_MAX; i++) await upsert(held, { key: `step-${i}`, title: `Step ${i}` });
    expect((await failure(upsert(held, { key: 'one-too-many', title: 'No room' }))).code).toBe(ErrorCode.VALIDATION_FAILED);
    // Existing steps still update.
    expect(await upsert(held, { key: `step-${PLAN_STEPS_PER_RUN_MAX}`, status: 'completed' })).toMatchObject({ position: PLAN_STEPS_PER_RUN_MAX, status: 'completed' });

    const evidence = Array.from({ length: PLAN_STEP_EVIDENCE_MAX - 1 }, (_, i) => ({ kind: 'text', text: `e${i}` }));
    await upsert(held, { key: 'step-1', evidence });
    await upsert(held, { key: 'step-1', evidence: [{ kind: 'text', text: 'last one' }] });
    const before = await stored(claimed.run.id);
    expect((await failure(upsert(held, { key: 'step-1', evidence: [{ kind: 'text', text: 'over' }] }))).code).toBe(ErrorCode.VALIDATION_FAILED);
    expect(await stored(claimed.run.id)).toEqual(before);

    const pages: PlanStepView[] = [];
    let cursor: string | undefined;
    do {
      const page = await list(admin, claimed.run.id, { limit: 64, cursor });
      pages.push(...page.data);
      cursor = page.next_cursor ?? undefined;
    } while (cursor !== undefined);
    expect(pages.map((step) => step.position)).toEqual(Array.from({ length: PLAN_STEPS_PER_RUN_MAX }, (_, i) => i + 1));
    expect(pages[0]?.evidence).toHaveLength(PLAN_STEP_EVIDENCE_MAX);
  });

  it('bounds the evidence a run holds in total, so a claim can hand every step back', async () => {
    const { admin } = newTenant();
    const { claimed } = await runningRun(admin);
    const held = lease(claimed);
    const big = 'x'.repeat(9000);
    const perStep = Array.from({ length: 20 }, () => ({ kind: 'text', text: big }));
    let refused: string | undefined;
    for (let i = 1; refused === undefined && i <= 10; i++) refused = (await outcome(upsert(held, { key: `s${i}`, title: `s${i}`, evidence: perStep }))) === 'ok' ? undefined : `s${i}`;
    expect(refused).toBe(`s${Math.ceil(PLAN_STEP_EVIDENCE_BYTES_PER_RUN_MAX / (20 * 9000))}`);
    expect((await failure(upsert(held, { key: 'small', title: 'small', evidence: perStep }))).code).toBe(ErrorCode.PAYLOAD_TOO_LARGE);
  });
});

describe('the evidence budget', () => {
  it('measures a run’s evidence as stored, and never refuses an update that adds none', async () => {
    const { admin } = newTenant();
    const { claimed } = await runningRun(admin);
    const held = lease(claimed);
    // Stored (jsonb text: `0, ` per element) it is half again its compact JSON (`0,`).
    const item = { kind: 'tool_output', data: { zeros: Array.from({ length: 8000 }, () => 0) } };
    let refused: number | undefined;
    for (let i = 1; refused === undefined; i++) {
      expect(i).toBeLessThan(60);
      const code = await outcome(upsert(held, { key: `s${i}`, title: `s${i}`, evidence: [item] }));
      if (code !== 'ok') refused = i;
      if (code !== 'ok') expect(code).toBe(ErrorCode.PAYLOAD_TOO_LARGE);
    }
    const [{ bytes }] = await fixture.dataSource.query<{ bytes: string }[]>(`SELECT sum(octet_length(evidence::text)) AS bytes FROM plan_steps WHERE run_id = $1`, [claimed.run.id]);
    expect(Number(bytes)).toBeLessThanOrEqual(PLAN_STEP_EVIDENCE_BYTES_PER_RUN_MAX);
    expect(Number(bytes) + 24_000).toBeGreaterThan(PLAN_STEP_EVIDENCE_BYTES_PER_RUN_MAX);
    // At the budget, what adds no evidence still goes through.
    expect(await upsert(held, { key: 's1', status: 'completed' })).toMatchObject({ status: 'completed' });
    expect(await upsert(held, { key: 's1', title: 'Renamed', evidence: [] })).toMatchObject({ title: 'Renamed', evidence: [item] });
    expect(await outcome(upsert(held, { key: 's1', evidence: [item] }))).toBe(ErrorCode.PAYLOAD_TOO_LARGE);
  });
});

describe('fencing', () => {
  it('refuses writes with a stale lease (LEASE_LOST), on a suspended run (LEASE_LOST), on a cancelling run (CONFLICT) and on an ended one (RUN_TERMINAL), changing nothing', async () => {
    const { admin } = newTenant();
    const executor = uniqueExecutor();
    const run = await calls.create(admin, { route: { executor } });
    const first = await calls.claimOne(executor, 150);
    await upsert(lease(first), { key: 'a', title: 'A' });
    // The lease lapses and the run is claimed again: the first worker is fenced off.
    await expectEventually(() => expect(calls.get(admin, run.id)).resolves.toMatchObject({ status: 'pending' }), { timeoutMs: 5000 });
    const second = await calls.claimOne(executor);
    expect(second.steps.map((step) => step.key)).toEqual(['a']);
    let before = await stored(run.id);
    expect(await outcome(upsert(lease(first), { key: 'a', status: 'completed' }))).toBe(ErrorCode.LEASE_LOST);
    expect(await outcome(upsert(lease(second, second.lease_token + 1), { key: 'b', title: 'B' }))).toBe(ErrorCode.LEASE_LOST);
    expect(await stored(run.id)).toEqual(before);

    await bus.request(RequestWait, { ...lease(second), key: 'go', kind: 'approval', prompt: 'Go on?' });
    before = await stored(run.id);
    expect(await outcome(upsert(lease(second), { key: 'b', title: 'B' }))).toBe(ErrorCode.LEASE_LOST);
    expect(await stored(run.id)).toEqual(before);

    const other = await calls.create(admin, { route: { executor } });
    const third = await calls.claimOne(executor);
    expect(third.run.id).toBe(other.id);
    await bus.request(CancelRun, { scope: admin, run_id: other.id, body: {} });
    before = await stored(other.id);
    expect(await outcome(upsert(lease(third), { key: 'late', title: 'Late' }))).toBe(ErrorCode.CONFLICT);
    expect(await stored(other.id)).toEqual(before);

    const last = await calls.create(admin, { route: { executor } });
    const fourth = await calls.claimOne(executor);
    await bus.request(CompleteRun, lease(fourth));
    before = await stored(last.id);
    expect(await outcome(upsert(lease(fourth), { key: 'late', title: 'Late' }))).toBe(ErrorCode.RUN_TERMINAL);
    expect(await stored(last.id)).toEqual(before);
  });
});

describe('reading plan steps', () => {
  it('shows a run’s steps to its owner and admins only; anyone else gets NOT_FOUND', async () => {
    const tenant = newTenant();
    const owner = tenant.member();
    const executor = uniqueExecutor();
    const session = await bus.request(CreateSession, { scope: owner, body: { route_policy: { executor } } });
    const run = await calls.create(owner, { session_id: session.id });
    const step = await upsert(lease(await calls.claimOne(executor)), { key: 'k', title: 'T' });
    expect((await list(owner, run.id)).data).toEqual([step]);
    expect((await list(tenant.admin, run.id)).data).toEqual([step]);
    for (const outsider of [tenant.member(), newTenant().admin]) {
      expect((await failure(list(outsider, run.id))).code).toBe(ErrorCode.NOT_FOUND);
    }
    expect((await failure(list(owner, run.id, { cursor: 'not-a-cursor' }))).code).toBe(ErrorCode.INVALID_CURSOR);
  });
});
