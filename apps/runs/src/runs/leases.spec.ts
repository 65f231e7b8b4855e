import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  CancelRun,
  ClaimRun,
  CompleteRun,
  CreateRun,
  CreateSession,
  ErrorCode,
  FailRun,
  FinishCancel,
  GetRun,
  ReleaseRun,
  RenewLease,
  type CallerScope,
  type ClaimedRun,
  type PayloadOf,
  type RunView,
} from '@runyard/contracts';
import type { InProcessBus } from '@runyard/messaging';
import { expectEventually } from '@runyard/testing';
import { failure, newTenant, startRunsFixture, uniqueExecutor, type RunsFixture } from '../runs.fixture.js';

// Workers: claims, leases with fencing tokens, outcomes, and recovery of what a crashed worker left.
// Every test claims only runs of an executor of its own, so tests never take each other's runs.
let fixture: RunsFixture;
let bus: InProcessBus;

beforeAll(async () => {
  fixture = await startRunsFixture();
  ({ bus } = fixture);
}, 60_000);

afterAll(() => fixture.close());

function create(scope: CallerScope, body: PayloadOf<typeof CreateRun>['body']): Promise<RunView> {
  return bus.request(CreateRun, { scope, body });
}

function get(scope: CallerScope, runId: string): Promise<RunView> {
  return bus.request(GetRun, { scope, run_id: runId });
}

function claim(executor: string, leaseTtlMs = 60_000, workerId = 'worker-1'): Promise<ClaimedRun | null> {
  return bus.request(ClaimRun, { worker_id: workerId, executors: [executor], lease_ttl_ms: leaseTtlMs });
}

async function claimOne(executor: string, leaseTtlMs = 60_000, workerId = 'worker-1'): Promise<ClaimedRun> {
  const claimed = await claim(executor, leaseTtlMs, workerId);
  if (claimed === null) throw new Error(`nothing pending for ${executor}`);
  return claimed;
}

function lease(claimed: ClaimedRun, token = claimed.lease_token): { tenant_id: string; run_id: string; lease_token: number } {
  return { tenant_id: claimed.run.tenant_id, run_id: claimed.run.id, lease_token: token };
}

/** Every worker write with `held`, each answered with an error code (or 'ok'). */
async function workerWrites(held: ReturnType<typeof lease>): Promise<Record<string, string>> {
  const code = async (promise: Promise<unknown>): Promise<string> => promise.then(() => 'ok', async () => (await failure(promise)).code);
  return {
    renew: await code(bus.request(RenewLease, { ...held, lease_ttl_ms: 60_000 })),
    complete: await code(bus.request(CompleteRun, { ...held, output: { late: true } })),
    fail: await code(bus.request(FailRun, { ...held, failure_message: 'late' })),
    finishCancel: await code(bus.request(FinishCancel, held)),
  };
}

describe('claiming', () => {
  it('hands out the oldest pending run of the asked executors under a new lease, and null when none is pending', async () => {
    const { admin } = newTenant();
    const executor = uniqueExecutor();
    const first = await create(admin, { route: { executor } });
    const second = await create(admin, { route: { executor } });
    await create(admin, { route: { executor: uniqueExecutor() } });
    const claimed = await claimOne(executor, 30_000, 'worker-a');
    expect(claimed.run).toMatchObject({ id: first.id, status: 'running', attempt: 1, worker_id: 'worker-a' });
    expect(claimed.lease_token).toBe(1);
    expect(Date.parse(claimed.lease_expires_at) - Date.now()).toBeGreaterThan(25_000);
    expect(claimed.run.started_at).not.toBeNull();
    expect(claimed.run).not.toHaveProperty('lease_token');
    expect((await claimOne(executor)).run.id).toBe(second.id);
    expect(await claim(executor)).toBeNull();
  });

  it('gives each of many concurrent claims a different run', async () => {
    const { admin } = newTenant();
    const executor = uniqueExecutor();
    const created = await Promise.all(Array.from({ length: 30 }, () => create(admin, { route: { executor } })));
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => claim(executor, 60_000, `worker-${i}`)));
    const claimedIds = results.filter((result) => result !== null).map((result) => result.run.id);
    expect(claimedIds).toHaveLength(30);
    expect(new Set(claimedIds).size).toBe(30);
    expect([...claimedIds].sort()).toEqual(created.map((run) => run.id).sort());
  });
});

describe('leases and fencing', () => {
  it('refuses every write with a stale token with LEASE_LOST, and changes nothing', async () => {
    const { admin } = newTenant();
    const executor = uniqueExecutor();
    await create(admin, { route: { executor } });
    const claimed = await claimOne(executor, 150);
    // The lease lapses; the sweeper returns the run to pending and another worker claims it.
    await expectEventually(() => expect(get(admin, claimed.run.id)).resolves.toMatchObject({ status: 'pending' }), { timeoutMs: 5000 });
    const reclaimed = await claimOne(executor, 60_000, 'worker-2');
    expect(reclaimed.lease_token).toBe(claimed.lease_token + 1);
    const before = await get(admin, claimed.run.id);

    expect(await workerWrites(lease(claimed))).toEqual({
      renew: ErrorCode.LEASE_LOST,
      complete: ErrorCode.LEASE_LOST,
      fail: ErrorCode.LEASE_LOST,
      finishCancel: ErrorCode.LEASE_LOST,
    });
    expect(await workerWrites(lease(reclaimed, reclaimed.lease_token + 1))).toMatchObject({ renew: ErrorCode.LEASE_LOST, complete: ErrorCode.LEASE_LOST });
    expect(await get(admin, claimed.run.id)).toEqual(before);
    expect(before).toMatchObject({ status: 'running', worker_id: 'worker-2', attempt: 2 });

    const done = await bus.request(CompleteRun, { ...lease(reclaimed), output: { by: 'worker-2' } });
    expect(done).toMatchObject({ status: 'completed', output: { by: 'worker-2' } });
  });

  it('renews a held lease, and tells the worker when a cancel was requested', async () => {
    const { admin } = newTenant();
    const executor = uniqueExecutor();
    const run = await create(admin, { route: { executor } });
    const claimed = await claimOne(executor, 1000);
    const renewed = await bus.request(RenewLease, { ...lease(claimed), lease_ttl_ms: 120_000 });
    expect(renewed.cancel_requested).toBe(false);
    expect(Date.parse(renewed.lease_expires_at) - Date.now()).toBeGreaterThan(100_000);
    await bus.request(CancelRun, { scope: admin, run_id: run.id, body: {} });
    expect((await bus.request(RenewLease, { ...lease(claimed), lease_ttl_ms: 120_000 })).cancel_requested).toBe(true);
    // A run being cancelled cannot complete: the worker acknowledges the cancel instead.
    expect((await failure(bus.request(CompleteRun, lease(claimed)))).code).toBe(ErrorCode.INVALID_TRANSITION);
    expect((await bus.request(FinishCancel, lease(claimed))).status).toBe('cancelled');
  });

  it('never reopens a terminal run: late completions, failures, cancels and renewals get RUN_TERMINAL', async () => {
    const { admin } = newTenant();
    const executor = uniqueExecutor();
    const run = await create(admin, { route: { executor } });
    const claimed = await claimOne(executor);
    await bus.request(CancelRun, { scope: admin, run_id: run.id, body: {} });
    const cancelled = await bus.request(FinishCancel, lease(claimed));
    expect(cancelled.status).toBe('cancelled');
    expect(await workerWrites(lease(claimed))).toEqual({
      renew: ErrorCode.RUN_TERMINAL,
      complete: ErrorCode.RUN_TERMINAL,
      fail: ErrorCode.RUN_TERMINAL,
      finishCancel: ErrorCode.RUN_TERMINAL,
    });
    expect(await get(admin, run.id)).toEqual(cancelled);

    const other = await create(admin, { route: { executor } });
    const failed = await bus.request(FailRun, { ...lease(await claimOne(executor)), failure_message: 'tool crashed' });
    expect(failed).toMatchObject({ id: other.id, status: 'failed', failure_class: 'error', failure_message: 'tool crashed' });
    expect((await failure(bus.request(CancelRun, { scope: admin, run_id: other.id, body: {} }))).code).toBe(ErrorCode.RUN_TERMINAL);
    expect(await get(admin, other.id)).toEqual(failed);
  });
});

describe('release', () => {
  it('gives a released run back to pending at once without counting the attempt, and fences the releasing worker off', async () => {
    const { admin } = newTenant();
    const executor = uniqueExecutor();
    const run = await create(admin, { route: { executor }, max_attempts: 1 });
    const first = await claimOne(executor);
    expect(await bus.request(ReleaseRun, lease(first))).toMatchObject({ id: run.id, status: 'pending', attempt: 0 });
    expect(await workerWrites(lease(first))).toMatchObject({ renew: ErrorCode.LEASE_LOST, complete: ErrorCode.LEASE_LOST });

    // With max_attempts 1 a counted attempt would have left nothing: the next worker still runs it.
    const second = await claimOne(executor, 60_000, 'worker-2');
    expect(second.run).toMatchObject({ id: run.id, attempt: 1, worker_id: 'worker-2' });
    expect(await bus.request(CompleteRun, lease(second))).toMatchObject({ status: 'completed' });
  });

  it('cancels a released run whose cancel was requested', async () => {
    const { admin } = newTenant();
    const executor = uniqueExecutor();
    const run = await create(admin, { route: { executor } });
    const claimed = await claimOne(executor);
    await bus.request(CancelRun, { scope: admin, run_id: run.id, body: {} });
    expect(await bus.request(ReleaseRun, lease(claimed))).toMatchObject({ status: 'cancelled' });
  });
});

describe('time to live', () => {
  it('expires a run that never started, but not one that started and came back to pending', async () => {
    const { admin } = newTenant();
    const executor = uniqueExecutor();
    const started = await create(admin, { route: { executor }, ttl_seconds: 1 });
    const claimed = await claimOne(executor);
    await bus.request(ReleaseRun, lease(claimed));
    const neverStarted = await create(admin, { route: { executor: uniqueExecutor() }, ttl_seconds: 1 });

    await expectEventually(() => expect(get(admin, neverStarted.id)).resolves.toMatchObject({ status: 'expired' }), { timeoutMs: 5000 });
    // Past its TTL too, yet it started once: the TTL bounds the wait for a first start only.
    expect(Date.now()).toBeGreaterThan(Date.parse(started.expires_at!));
    expect(await get(admin, started.id)).toMatchObject({ status: 'pending' });
    expect((await claimOne(executor)).run.id).toBe(started.id);
  });
});

describe('recovery from crashed workers', () => {
  it('retries a run whose lease expired, then fails it as crashed when attempts run out, and the session moves on', async () => {
    const { admin } = newTenant();
    const executor = uniqueExecutor();
    const s = await bus.request(CreateSession, { scope: admin, body: { route_policy: { executor } } });
    const run = await create(admin, { session_id: s.id, max_attempts: 2 });
    const next = await create(admin, { session_id: s.id });

    const first = await claimOne(executor, 150);
    await expectEventually(() => expect(get(admin, run.id)).resolves.toMatchObject({ status: 'pending', attempt: 1 }), { timeoutMs: 5000 });
    expect((await get(admin, next.id)).status).toBe('queued');

    const second = await claimOne(executor, 150);
    expect(second.run).toMatchObject({ id: run.id, attempt: 2 });
    expect(second.lease_token).toBe(first.lease_token + 1);
    await expectEventually(() => expect(get(admin, run.id)).resolves.toMatchObject({ status: 'failed', failure_class: 'crashed' }), { timeoutMs: 5000 });
    expect((await get(admin, next.id)).status).toBe('pending');
  });

  it('finishes the cancel of a run whose worker died while stopping it', async () => {
    const { admin } = newTenant();
    const executor = uniqueExecutor();
    const run = await create(admin, { route: { executor } });
    await claimOne(executor, 300);
    expect((await bus.request(CancelRun, { scope: admin, run_id: run.id, body: {} })).status).toBe('cancelling');
    await expectEventually(() => expect(get(admin, run.id)).resolves.toMatchObject({ status: 'cancelled' }), { timeoutMs: 5000 });
  });

  it('cancels a run whose worker keeps its lease but ignores the cancel, once the grace period is over', async () => {
    const { admin } = newTenant();
    const executor = uniqueExecutor();
    const run = await create(admin, { route: { executor } });
    const claimed = await claimOne(executor, 60_000);
    expect((await bus.request(CancelRun, { scope: admin, run_id: run.id, body: {} })).status).toBe('cancelling');
    expect((await bus.request(RenewLease, { ...lease(claimed), lease_ttl_ms: 60_000 })).cancel_requested).toBe(true);
    await expectEventually(() => expect(get(admin, run.id)).resolves.toMatchObject({ status: 'cancelled' }), { timeoutMs: 10_000 });
    await expect(bus.request(RenewLease, { ...lease(claimed), lease_ttl_ms: 60_000 })).rejects.toMatchObject({ code: ErrorCode.RUN_TERMINAL });
  });

  it('fails a run that runs past its max duration with timeout', async () => {
    const { admin } = newTenant();
    const executor = uniqueExecutor();
    const run = await create(admin, { route: { executor }, max_duration_seconds: 1 });
    await claimOne(executor, 60_000);
    await expectEventually(() => expect(get(admin, run.id)).resolves.toMatchObject({ status: 'failed', failure_class: 'timeout' }), { timeoutMs: 5000 });
  });
});
