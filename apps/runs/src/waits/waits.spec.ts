import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  AnswerWait,
  CancelRun,
  ClaimRun,
  CompleteRun,
  CreateSession,
  ErrorCode,
  ListWaits,
  RenewLease,
  RequestWait,
  RunStatusChanged,
  WaitClosed,
  WaitOpened,
  type CallerScope,
  type ClaimedRun,
  type PayloadOf,
  type RequestedWait,
  type WaitView,
} from '@runyard/contracts';
import type { InProcessBus } from '@runyard/messaging';
import { expectEventually } from '@runyard/testing';
import { executorCalls, lease, outcome, type LeaseFields } from '../executor-calls.fixture.js';
import { failure, newTenant, startRunsFixture, uniqueExecutor, type RunsFixture } from '../runs.fixture.js';

// Approvals and input requests: the executor opens one and its run suspends; a principal answers it
// and the same run resumes with the answer; unanswered it times out; a cancel closes it. Every test
// works in tenants and executors of its own.
let fixture: RunsFixture;
let bus: InProcessBus;
let calls: ReturnType<typeof executorCalls>;

beforeAll(async () => {
  fixture = await startRunsFixture();
  ({ bus } = fixture);
  calls = executorCalls(bus);
}, 60_000);

afterAll(() => fixture.close());

type WaitFields = Omit<PayloadOf<typeof RequestWait>, keyof LeaseFields>;
type Answer = Omit<PayloadOf<typeof AnswerWait>, 'scope' | 'run_id' | 'wait_id'>;

function requestWait(claimed: ClaimedRun, fields: WaitFields): Promise<RequestedWait> {
  return bus.request(RequestWait, { ...lease(claimed), ...fields });
}

function answer(scope: CallerScope, wait: WaitView, body: Answer) {
  return bus.request(AnswerWait, { scope, run_id: wait.run_id, wait_id: wait.id, ...body });
}

function listWaits(scope: CallerScope, runId: string, query: PayloadOf<typeof ListWaits>['query'] = {}) {
  return bus.request(ListWaits, { scope, run_id: runId, query });
}

/** The run's rows as stored and how many events its outbox holds: what "nothing changed" compares. */
async function stored(runId: string): Promise<{ run: unknown; waits: unknown[]; events: number }> {
  const [run] = await fixture.dataSource.query<unknown[]>(`SELECT * FROM runs WHERE id = $1`, [runId]);
  const waits = await fixture.dataSource.query<unknown[]>(`SELECT * FROM waits WHERE run_id = $1 ORDER BY id`, [runId]);
  const [{ count }] = await fixture.dataSource.query<{ count: string }[]>(`SELECT count(*) AS count FROM outbox_events WHERE envelope ->> 'run_id' = $1`, [runId]);
  return { run, waits, events: Number(count) };
}

async function runningRun(scope: CallerScope, body: Parameters<typeof calls.create>[1] = {}) {
  const executor = uniqueExecutor();
  const run = await calls.create(scope, { route: { executor }, ...body });
  return { executor, run, claimed: await calls.claimOne(executor) };
}

describe('approvals', () => {
  it('suspends the run until approved; the same run resumes and its next claim carries the answer', async () => {
    const { admin } = newTenant();
    const { executor, run, claimed } = await runningRun(admin);

    const opened = await requestWait(claimed, { key: 'deploy', kind: 'approval', prompt: 'Deploy to prod?', details: { action: 'deploy', env: 'prod' }, timeout_seconds: 3600 });
    expect(opened.suspended).toBe(true);
    expect(opened.wait).toMatchObject({ run_id: run.id, key: 'deploy', kind: 'approval', status: 'open', prompt: 'Deploy to prod?', details: { action: 'deploy', env: 'prod' }, schema: null, answer: null, answered_by: null });
    expect(Date.parse(opened.wait.timeout_at as string) - Date.now()).toBeGreaterThan(3500_000);
    expect(await calls.get(admin, run.id)).toMatchObject({ status: 'waiting_for_approval' });
    // The lease ended with the suspension: the worker can neither renew nor write.
    expect(await outcome(bus.request(RenewLease, { ...lease(claimed), lease_ttl_ms: 60_000 }))).toBe(ErrorCode.LEASE_LOST);
    // Nothing to claim while it waits.
    expect(await bus.request(ClaimRun, { worker_id: 'worker-2', executors: [executor], lease_ttl_ms: 60_000 })).toBeNull();
    expect((await listWaits(admin, run.id)).data).toEqual([opened.wait]);

    const answered = await answer(admin, opened.wait, { decision: 'approved', reason: 'looks fine' });
    expect(answered.wait).toMatchObject({ id: opened.wait.id, status: 'answered', answer: { decision: 'approved', reason: 'looks fine', input: null }, answered_by: admin.principal_id });
    expect(answered.wait.answered_at).not.toBeNull();
    expect(answered.run).toMatchObject({ id: run.id, status: 'pending', attempt: 1 });

    const resumed = await calls.claimOne(executor);
    expect(resumed.run).toMatchObject({ id: run.id, status: 'running', attempt: 2 });
    expect(resumed.lease_token).toBe(claimed.lease_token + 1);
    expect(resumed.waits).toEqual([answered.wait]);
    // The re-run executor asks again with the same key: it gets the answer and goes on.
    expect(await requestWait(resumed, { key: 'deploy', kind: 'approval', prompt: 'Deploy to prod?' })).toEqual({ wait: answered.wait, suspended: false });
    expect(await bus.request(CompleteRun, lease(resumed))).toMatchObject({ status: 'completed' });

    await expectEventually(() => {
      const published = fixture.events.filter((event) => event.run_id === run.id && event.subject !== 'runs.evt.run.created.v1');
      expect(published.map((event) => (event.subject === RunStatusChanged.subject ? `${event.subject}:${(event.data as { to: string }).to}` : event.subject))).toEqual([
        `${RunStatusChanged.subject}:running`,
        WaitOpened.subject,
        `${RunStatusChanged.subject}:waiting_for_approval`,
        WaitClosed.subject,
        `${RunStatusChanged.subject}:pending`,
        `${RunStatusChanged.subject}:running`,
        `${RunStatusChanged.subject}:completed`,
      ]);
    });
  });

  it('resumes a denied run too, with the denial and its reason', async () => {
    const { admin } = newTenant();
    const { executor, claimed } = await runningRun(admin);
    const { wait } = await requestWait(claimed, { key: 'rm', kind: 'approval', prompt: 'Delete the branch?' });
    const answered = await answer(admin, wait, { decision: 'denied', reason: 'still needed' });
    expect(answered.wait.answer).toEqual({ decision: 'denied', reason: 'still needed', input: null });
    expect(answered.run.status).toBe('pending');
    expect((await calls.claimOne(executor)).waits[0]?.answer).toEqual({ decision: 'denied', reason: 'still needed', input: null });
  });
});

describe('input requests', () => {
  const schema = { type: 'object', required: ['branch'], properties: { branch: { type: 'string', minLength: 1 }, force: { type: 'boolean' } }, additionalProperties: false };

  it('takes a response that satisfies the schema, refuses one that does not with the problems listed, and changes nothing then', async () => {
    const { admin } = newTenant();
    const { executor, run, claimed } = await runningRun(admin);
    const { wait, suspended } = await requestWait(claimed, { key: 'which-branch', kind: 'input', prompt: 'Which branch?', schema });
    expect(suspended).toBe(true);
    expect(wait.schema).toEqual(schema);
    expect(await calls.get(admin, run.id)).toMatchObject({ status: 'waiting_for_input' });

    const before = await stored(run.id);
    const invalid = await failure(answer(admin, wait, { decision: 'responded', input: { force: 'yes', extra: 1 } }));
    expect(invalid.code).toBe(ErrorCode.VALIDATION_FAILED);
    expect(invalid.details?.errors).toEqual(
      expect.arrayContaining([
        { field: 'input', message: expect.stringContaining('branch') },
        { field: 'input.force', message: expect.stringContaining('boolean') },
      ]),
    );
    expect(await stored(run.id)).toEqual(before);

    const answered = await answer(admin, wait, { decision: 'responded', input: { branch: 'main' } });
    expect(answered.wait.answer).toEqual({ decision: 'responded', reason: null, input: { branch: 'main' } });
    expect((await calls.claimOne(executor)).waits).toEqual([answered.wait]);
  });

  it('refuses a decision of the wrong kind with CONFLICT and a misplaced or missing input with VALIDATION_FAILED', async () => {
    const { admin } = newTenant();
    const input = await runningRun(admin);
    const approval = await runningRun(admin);
    const question = (await requestWait(input.claimed, { key: 'q', kind: 'input', prompt: 'Name?' })).wait;
    const approvalWait = (await requestWait(approval.claimed, { key: 'a', kind: 'approval', prompt: 'OK?' })).wait;
    const before = [await stored(input.run.id), await stored(approval.run.id)];

    expect(await outcome(answer(admin, question, { decision: 'approved' }))).toBe(ErrorCode.CONFLICT);
    expect(await outcome(answer(admin, question, { decision: 'denied' }))).toBe(ErrorCode.CONFLICT);
    expect(await outcome(answer(admin, approvalWait, { decision: 'responded', input: { ok: true } }))).toBe(ErrorCode.CONFLICT);
    expect(await outcome(answer(admin, question, { decision: 'responded' }))).toBe(ErrorCode.VALIDATION_FAILED);
    expect(await outcome(answer(admin, approvalWait, { decision: 'approved', input: { ok: true } }))).toBe(ErrorCode.VALIDATION_FAILED);
    expect([await stored(input.run.id), await stored(approval.run.id)]).toEqual(before);

    // Without a schema any object is a response.
    expect((await answer(admin, question, { decision: 'responded', input: { name: 'x' } })).wait.status).toBe('answered');
  });

  it('refuses a schema on an approval and a schema Ajv cannot use, opening nothing', async () => {
    const { admin } = newTenant();
    const { run, claimed } = await runningRun(admin);
    const before = await stored(run.id);
    expect(await outcome(requestWait(claimed, { key: 'a', kind: 'approval', prompt: 'OK?', schema }))).toBe(ErrorCode.VALIDATION_FAILED);
    expect(await outcome(requestWait(claimed, { key: 'b', kind: 'input', prompt: 'What?', schema: { type: 'no-such-type' } }))).toBe(ErrorCode.VALIDATION_FAILED);
    expect(await outcome(requestWait(claimed, { key: 'c', kind: 'input', prompt: 'What?', schema: { $ref: 'https://example.com/schema.json' } }))).toBe(ErrorCode.VALIDATION_FAILED);
    expect(await stored(run.id)).toEqual(before);
    expect(await calls.get(admin, run.id)).toMatchObject({ status: 'running' });
  });
});

describe('answers that come too late', () => {
  it('refuses a second answer to an answered wait with CONFLICT', async () => {
    const { admin } = newTenant();
    const { run, claimed } = await runningRun(admin);
    const { wait } = await requestWait(claimed, { key: 'k', kind: 'approval', prompt: 'OK?' });
    await answer(admin, wait, { decision: 'approved' });
    const before = await stored(run.id);
    expect(await outcome(answer(admin, wait, { decision: 'denied' }))).toBe(ErrorCode.CONFLICT);
    expect(await stored(run.id)).toEqual(before);
  });

  it('cancelling a waiting run cancels its wait; an answer then gets RUN_TERMINAL and changes nothing, publishing nothing', async () => {
    const { admin } = newTenant();
    const { run, claimed } = await runningRun(admin);
    const { wait } = await requestWait(claimed, { key: 'k', kind: 'input', prompt: 'Name?' });
    expect(await bus.request(CancelRun, { scope: admin, run_id: run.id, body: { reason: 'changed my mind' } })).toMatchObject({ status: 'cancelled' });
    const [closed] = (await listWaits(admin, run.id)).data;
    expect(closed).toMatchObject({ id: wait.id, status: 'cancelled', answer: null });
    await expectEventually(() => expect(fixture.events.find((event) => event.subject === WaitClosed.subject && event.run_id === run.id)?.data).toEqual(closed));

    const before = await stored(run.id);
    expect(await outcome(answer(admin, wait, { decision: 'responded', input: { name: 'x' } }))).toBe(ErrorCode.RUN_TERMINAL);
    expect(await stored(run.id)).toEqual(before);
  });
});

describe('timeouts', () => {
  it('expires an unanswered wait and its run, and the session’s next queued run takes the slot', async () => {
    const { admin } = newTenant();
    const executor = uniqueExecutor();
    const session = await bus.request(CreateSession, { scope: admin, body: { route_policy: { executor } } });
    const run = await calls.create(admin, { session_id: session.id });
    const next = await calls.create(admin, { session_id: session.id });
    const claimed = await calls.claimOne(executor);
    const { wait } = await requestWait(claimed, { key: 'k', kind: 'approval', prompt: 'OK?', timeout_seconds: 1 });
    // Suspended, the run keeps the session's slot.
    expect(await calls.get(admin, next.id)).toMatchObject({ status: 'queued', queue_position: 1 });

    await expectEventually(() => expect(calls.get(admin, run.id)).resolves.toMatchObject({ status: 'expired' }), { timeoutMs: 5000 });
    expect((await listWaits(admin, run.id)).data).toEqual([expect.objectContaining({ id: wait.id, status: 'expired', answer: null })]);
    expect(await calls.get(admin, next.id)).toMatchObject({ status: 'pending' });
    expect((await calls.claimOne(executor)).run.id).toBe(next.id);
    expect(await outcome(answer(admin, wait, { decision: 'approved' }))).toBe(ErrorCode.RUN_TERMINAL);
  });
});

describe('the session slot', () => {
  it('stays with a suspended run, which resumes ahead of the queue when answered', async () => {
    const { admin } = newTenant();
    const executor = uniqueExecutor();
    const session = await bus.request(CreateSession, { scope: admin, body: { route_policy: { executor } } });
    const run = await calls.create(admin, { session_id: session.id });
    const claimed = await calls.claimOne(executor);
    const { wait } = await requestWait(claimed, { key: 'k', kind: 'approval', prompt: 'OK?' });
    const next = await calls.create(admin, { session_id: session.id });
    expect(next.status).toBe('queued');
    await answer(admin, wait, { decision: 'approved' });
    expect((await calls.claimOne(executor)).run.id).toBe(run.id);
    expect(await calls.get(admin, next.id)).toMatchObject({ status: 'queued' });
  });
});

describe('who may see and answer waits', () => {
  it('lets the run’s owner and admins list and answer; another member or tenant gets NOT_FOUND, and a wait of another run is NOT_FOUND', async () => {
    const tenant = newTenant();
    const owner = tenant.member();
    const executor = uniqueExecutor();
    const session = await bus.request(CreateSession, { scope: owner, body: { route_policy: { executor } } });
    const run = await calls.create(owner, { session_id: session.id });
    const { wait } = await requestWait(await calls.claimOne(executor), { key: 'k', kind: 'approval', prompt: 'OK?' });
    const other = await runningRun(tenant.admin);
    const otherWait = (await requestWait(other.claimed, { key: 'k', kind: 'approval', prompt: 'OK?' })).wait;

    const before = await stored(run.id);
    for (const outsider of [tenant.member(), newTenant().admin]) {
      expect(await outcome(listWaits(outsider, run.id))).toBe(ErrorCode.NOT_FOUND);
      expect(await outcome(answer(outsider, wait, { decision: 'approved' }))).toBe(ErrorCode.NOT_FOUND);
    }
    // The owner's run with another run's wait id.
    expect(await outcome(bus.request(AnswerWait, { scope: owner, run_id: run.id, wait_id: otherWait.id, decision: 'approved' }))).toBe(ErrorCode.NOT_FOUND);
    expect(await stored(run.id)).toEqual(before);

    expect((await listWaits(owner, run.id)).data).toEqual([wait]);
    expect((await answer(owner, wait, { decision: 'approved' })).wait.answered_by).toBe(owner.principal_id);
  });

  it('pages a run’s waits oldest first', async () => {
    const { admin } = newTenant();
    const { executor, run, claimed } = await runningRun(admin);
    const waits: WaitView[] = [];
    let current = claimed;
    for (let i = 0; i < 3; i++) {
      const { wait } = await requestWait(current, { key: `w${i}`, kind: 'approval', prompt: `#${i}` });
      waits.push((await answer(admin, wait, { decision: 'approved' })).wait);
      current = await calls.claimOne(executor);
    }
    const first = await listWaits(admin, run.id, { limit: 2 });
    expect(first.data).toEqual(waits.slice(0, 2));
    const second = await listWaits(admin, run.id, { limit: 2, cursor: first.next_cursor ?? undefined });
    expect(second).toEqual({ data: waits.slice(2), next_cursor: null });
  });
});
