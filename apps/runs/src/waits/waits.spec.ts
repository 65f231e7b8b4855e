import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  AnswerWait,
  CancelRun,
  CLAIMED_RUN_MAX_BYTES,
  ClaimRun,
  CompleteRun,
  CreateSession,
  ErrorCode,
  ListWaits,
  RenewLease,
  RequestWait,
  RunStatusChanged,
  UpsertPlanStep,
  WaitClosed,
  WaitOpened,
  WAITS_PER_RUN_MAX,
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
import { ANSWER_SCHEMA_MAX_DEPTH } from './answer-schema.js';

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
    // The claim that ended in the wait is given back: resuming uses up no attempt.
    expect(answered.run).toMatchObject({ id: run.id, status: 'pending', attempt: 0 });

    const resumed = await calls.claimOne(executor);
    expect(resumed.run).toMatchObject({ id: run.id, status: 'running', attempt: 1 });
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

  it('takes a response that satisfies the schema, refuses one that does not with the first problem found, and changes nothing then', async () => {
    const { admin } = newTenant();
    const { executor, run, claimed } = await runningRun(admin);
    const { wait, suspended } = await requestWait(claimed, { key: 'which-branch', kind: 'input', prompt: 'Which branch?', schema });
    expect(suspended).toBe(true);
    expect(wait.schema).toEqual(schema);
    expect(await calls.get(admin, run.id)).toMatchObject({ status: 'waiting_for_input' });

    const before = await stored(run.id);
    const invalid = await failure(answer(admin, wait, { decision: 'responded', input: { force: 'yes', extra: 1 } }));
    expect(invalid.code).toBe(ErrorCode.VALIDATION_FAILED);
    // Validation stops at the first problem (bounded work on a schema the executor chose).
    expect(invalid.details?.errors).toEqual([{ field: 'input', message: expect.stringContaining('branch') }]);
    const nested = await failure(answer(admin, wait, { decision: 'responded', input: { branch: 'main', force: 'yes' } }));
    expect(nested.details?.errors).toEqual([{ field: 'input.force', message: expect.stringContaining('boolean') }]);
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

  it('refuses a schema on an approval, a schema Ajv cannot use and one nested too deep, opening nothing', async () => {
    const { admin } = newTenant();
    const { run, claimed } = await runningRun(admin);
    const before = await stored(run.id);
    expect(await outcome(requestWait(claimed, { key: 'a', kind: 'approval', prompt: 'OK?', schema }))).toBe(ErrorCode.VALIDATION_FAILED);
    expect(await outcome(requestWait(claimed, { key: 'b', kind: 'input', prompt: 'What?', schema: { type: 'no-such-type' } }))).toBe(ErrorCode.VALIDATION_FAILED);
    expect(await outcome(requestWait(claimed, { key: 'c', kind: 'input', prompt: 'What?', schema: { $ref: 'https://example.com/schema.json' } }))).toBe(ErrorCode.VALIDATION_FAILED);
    // A valid schema, small but deep (each level two objects deep): refused before Ajv compiles it.
    let deep: Record<string, unknown> = { type: 'string' };
    for (let i = 0; i < ANSWER_SCHEMA_MAX_DEPTH / 2; i++) deep = { type: 'object', properties: { a: deep } };
    const tooDeep = await failure(requestWait(claimed, { key: 'd', kind: 'input', prompt: 'What?', schema: deep }));
    expect(tooDeep).toMatchObject({ code: ErrorCode.VALIDATION_FAILED, message: expect.stringContaining(`deeper than ${ANSWER_SCHEMA_MAX_DEPTH}`) });
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

describe('asking again', () => {
  it('refuses a request with a key the run has for the other kind of wait with CONFLICT, changing nothing', async () => {
    const { admin } = newTenant();
    const { executor, run, claimed } = await runningRun(admin);
    const { wait } = await requestWait(claimed, { key: 'k', kind: 'approval', prompt: 'OK?' });
    const answered = await answer(admin, wait, { decision: 'approved' });
    const resumed = await calls.claimOne(executor);
    const before = await stored(run.id);
    expect(await outcome(requestWait(resumed, { key: 'k', kind: 'input', prompt: 'Name?' }))).toBe(ErrorCode.CONFLICT);
    expect(await stored(run.id)).toEqual(before);
    expect(await requestWait(resumed, { key: 'k', kind: 'approval', prompt: 'OK?' })).toEqual({ wait: answered.wait, suspended: false });
  });

  it(`opens at most ${WAITS_PER_RUN_MAX} waits per run: a new key past that is VALIDATION_FAILED, a known one still answers`, async () => {
    const { admin } = newTenant();
    const { executor, run, claimed } = await runningRun(admin);
    let current = claimed;
    for (let i = 0; i < WAITS_PER_RUN_MAX; i++) {
      const { wait } = await requestWait(current, { key: `w${i}`, kind: 'approval', prompt: `#${i}` });
      await answer(admin, wait, { decision: 'approved' });
      current = await calls.claimOne(executor);
    }
    expect(current.waits).toHaveLength(WAITS_PER_RUN_MAX);
    const before = await stored(run.id);
    const refused = await failure(requestWait(current, { key: 'one-too-many', kind: 'approval', prompt: 'And this?' }));
    expect(refused).toMatchObject({ code: ErrorCode.VALIDATION_FAILED, details: { errors: [{ field: 'key', message: expect.any(String) }] } });
    expect(await stored(run.id)).toEqual(before);
    expect((await requestWait(current, { key: 'w0', kind: 'approval', prompt: '#0' })).suspended).toBe(false);
  });
});

describe('a resumed run', () => {
  it('keeps its retries: a run answered twice whose worker then dies is retried with max_attempts 2, not failed as crashed', async () => {
    const { admin } = newTenant();
    const { executor, run, claimed } = await runningRun(admin, { max_attempts: 2 });
    const first = await requestWait(claimed, { key: 'first', kind: 'approval', prompt: 'OK?' });
    await answer(admin, first.wait, { decision: 'approved' });
    const second = await requestWait(await calls.claimOne(executor), { key: 'second', kind: 'approval', prompt: 'Still OK?' });
    await answer(admin, second.wait, { decision: 'approved' });
    // The third claim: its worker dies, and the lease lapses.
    const third = await calls.claimOne(executor, 150);
    expect(third.run).toMatchObject({ id: run.id, attempt: 1 });
    await expectEventually(() => expect(calls.get(admin, run.id)).resolves.toMatchObject({ status: 'pending', attempt: 1 }), { timeoutMs: 5000 });
    const retried = await calls.claimOne(executor);
    expect(retried.run).toMatchObject({ id: run.id, attempt: 2 });
    expect(await bus.request(CompleteRun, lease(retried))).toMatchObject({ status: 'completed' });
  });

  it('does not count the time it waited for an answer against its max duration: the deadline moves on by that time', async () => {
    const { admin } = newTenant();
    const { executor, run, claimed } = await runningRun(admin, { max_duration_seconds: 2 });
    const deadline = await deadlineOf(run.id);
    expect(deadline).toBe(Date.parse(claimed.run.started_at as string) + 2000);
    const { wait } = await requestWait(claimed, { key: 'k', kind: 'approval', prompt: 'OK?' });
    // A run with the same max duration, claimed later, timing out: the original deadline has passed.
    const witness = await runningRun(admin, { max_duration_seconds: 2 });
    await expectEventually(() => expect(calls.get(admin, witness.run.id)).resolves.toMatchObject({ status: 'failed', failure_class: 'timeout' }), { timeoutMs: 8000 });
    expect(await calls.get(admin, run.id)).toMatchObject({ status: 'waiting_for_approval' });

    const answered = await answer(admin, wait, { decision: 'approved' });
    const moved = deadline + (Date.parse(answered.wait.answered_at as string) - Date.parse(wait.created_at));
    expect(await deadlineOf(run.id)).toBe(moved);
    const resumed = await calls.claimOne(executor);
    // The claim keeps it (it does not start the clock again from started_at), and it is still ahead.
    expect(await deadlineOf(run.id)).toBe(moved);
    expect(moved).toBeGreaterThan(Date.now());
    expect(await outcome(bus.request(RenewLease, { ...lease(resumed), lease_ttl_ms: 60_000 }))).toBe('ok');
    expect(await bus.request(CompleteRun, lease(resumed))).toMatchObject({ status: 'completed' });
  });
});

describe('the claim of a run with a lot to carry', () => {
  it('fails a run whose claim would be larger than the bus carries, rather than hand it out, and hands out the next run', async () => {
    const { admin } = newTenant();
    const executor = uniqueExecutor();
    const big = await calls.create(admin, { route: { executor }, input: 'é'.repeat(100_000) });
    const next = await calls.create(admin, { route: { executor } });
    let claimed = await calls.claimOne(executor);
    expect(claimed.run.id).toBe(big.id);
    // Evidence up to the run's budget, then input requests as large as they may be, each answered.
    const evidence = Array.from({ length: 25 }, () => ({ kind: 'text', text: 'x'.repeat(10_000) }));
    for (const key of ['one', 'two']) await bus.request(UpsertPlanStep, { ...lease(claimed), key, title: key, evidence });
    const sizes: number[] = [];
    for (let i = 0; claimed.run.id === big.id; i++) {
      expect(i).toBeLessThan(5);
      sizes.push(Buffer.byteLength(JSON.stringify(claimed), 'utf8'));
      const { wait } = await requestWait(claimed, {
        key: `w${i}`,
        kind: 'input',
        prompt: 'é'.repeat(4000),
        details: { text: 'd'.repeat(16_000) },
        schema: { type: 'object', description: 's'.repeat(16_000) },
      });
      await answer(admin, wait, { decision: 'responded', input: { text: 'a'.repeat(65_000) } });
      claimed = await calls.claimOne(executor);
    }
    expect(claimed.run.id).toBe(next.id);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(CLAIMED_RUN_MAX_BYTES);
    expect(await calls.get(admin, big.id)).toMatchObject({
      status: 'failed',
      failure_class: 'error',
      failure_message: expect.stringContaining(`over the limit of ${CLAIMED_RUN_MAX_BYTES} bytes`),
    });
    expect(await bus.request(ClaimRun, { worker_id: 'worker-2', executors: [executor], lease_ttl_ms: 60_000 })).toBeNull();
  });
});

/** The run's stored deadline, in ms. */
async function deadlineOf(runId: string): Promise<number> {
  const [row] = await fixture.dataSource.query<{ deadline_at: Date | null }[]>(`SELECT deadline_at FROM runs WHERE id = $1`, [runId]);
  if (row?.deadline_at == null) throw new Error(`run ${runId} has no deadline`);
  return new Date(row.deadline_at).getTime();
}
