import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  AnswerWait,
  CancelRun,
  ClaimRun,
  CompleteRun,
  CreateRun,
  CreateSession,
  DomainError,
  ErrorCode,
  FailRun,
  FinishCancel,
  ListRuns,
  ReleaseRun,
  RenewLease,
  RequestWait,
  UpsertPlanStep,
  type BusyPolicy,
  type CallerScope,
  type RunStatus,
  type RunView,
  type WaitDecision,
  type WaitKind,
  type WaitView,
} from '@runyard/contracts';
import type { InProcessBus } from '@runyard/messaging';
import { expectEventually } from '@runyard/testing';
import fc from 'fast-check';
import { isDeepStrictEqual } from 'node:util';
import {
  ACTIVE,
  checkRunHistory,
  checkSessionSlot,
  emptyLeaseLog,
  HistoryViolation,
  latestLeaseExpiry,
  LEASED,
  TERMINAL,
  type LeaseLog,
} from './run-history.fixture.js';
import { newTenant, startRunsFixture, uniqueExecutor, type RunsFixture } from './runs.fixture.js';

// DESIGN §5 guarantees 2–4 under random interleavings: several workers and a user act on one
// session's runs in small concurrent groups while the fixture's sweeper (every 50 ms) recovers the
// short leases nobody renews. No model of the service predicts the outcomes; the checks are
// invariants over every reply, the stored rows between groups, and the recorded events at the end
// (run-history.fixture.ts). Each example works in a tenant, session and executor of its own.
let fixture: RunsFixture;
let bus: InProcessBus;

beforeAll(async () => {
  fixture = await startRunsFixture();
  ({ bus } = fixture);
}, 60_000);

afterAll(() => fixture.close());

/** Leases short enough that unrenewed ones lapse during or right after a sequence. */
const LEASE_TTLS_MS = [150, 300] as const;
/** How late after its expiry a lease may be recovered (sweeps every 50 ms; slack for 2 busy cores). */
const RECOVERY_MARGIN_MS = 2000;
/** Workers of the sequences; the last one only drains at the end. */
const WORKER_IDS = ['worker-0', 'worker-1', 'drainer'] as const;
const DRAINER = WORKER_IDS.length - 1;
/** Run creations stop at this many runs per example. */
const MAX_RUNS = 10;

type LeaseWriteKind = 'renew' | 'complete' | 'fail' | 'finishCancel' | 'release' | 'requestWait' | 'upsertStep';
type Op =
  | { kind: 'claim'; worker: number; ttl: number }
  | { kind: 'renew'; worker: number; pick: number; forge: boolean; ttl: number }
  | { kind: 'complete' | 'fail' | 'finishCancel' | 'release'; worker: number; pick: number; forge: boolean }
  | { kind: 'requestWait'; worker: number; pick: number; forge: boolean; waitKind: WaitKind; key: string }
  | { kind: 'upsertStep'; worker: number; pick: number; forge: boolean; key: string }
  /** The worker dies: nobody renews its lease, and the sweeper must take the run back. */
  | { kind: 'crash'; worker: number; pick: number }
  /** `late`: aimed at a run that had ended by the group's start, when there is one. */
  | { kind: 'answer'; pick: number; decision: WaitDecision; late: boolean }
  | { kind: 'cancel'; run: number; late: boolean }
  | { kind: 'create'; policy: BusyPolicy; maxAttempts: number }
  | { kind: 'createSubRun'; parent: number };

/** What a call answered: 'ok', an error code, or 'skipped' (nothing to act on yet). */
interface Result {
  op: Op;
  /** The run the call acted on (a claim: the run it got), if any. */
  runId: string | null;
  code: string;
  message?: string;
  /** The lease token a worker write presented. */
  token?: number;
}

const worker = fc.integer({ min: 0, max: DRAINER - 1 });
/** Which of the worker's claims, newest first: mostly the newest, sometimes an older (stale) one. */
const pick = fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.nat(3) });
/** Now and then a worker presents a token it was never given (the next one). */
const forge = fc.oneof({ weight: 9, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) });
const ttl = fc.constantFrom(...LEASE_TTLS_MS);
const key = fc.constantFrom('k0', 'k1');
const late = fc.oneof({ weight: 2, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) });

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('claim' as const), worker, ttl }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('renew' as const), worker, pick, forge, ttl }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('complete' as const), worker, pick, forge }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constantFrom('fail' as const, 'finishCancel' as const, 'release' as const), worker, pick, forge }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('requestWait' as const), worker, pick, forge, waitKind: fc.constantFrom<WaitKind>('approval', 'input'), key }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('upsertStep' as const), worker, pick, forge, key }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('crash' as const), worker, pick }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('answer' as const), pick, decision: fc.constantFrom<WaitDecision>('approved', 'denied', 'responded'), late }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('cancel' as const), run: fc.nat(MAX_RUNS - 1), late }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('create' as const), policy: fc.constantFrom<BusyPolicy>('enqueue', 'interrupt', 'reject'), maxAttempts: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('createSubRun' as const), parent: fc.nat(MAX_RUNS - 1) }) },
);
/** 4 to 27 calls, in groups of up to 3 that run concurrently. */
const groupsArb = fc.array(fc.array(opArb, { minLength: 1, maxLength: 3 }), { minLength: 4, maxLength: 9, size: 'max' });
/**
 * The session's first top-level runs (their max attempts), and how many sub-runs the first one gets:
 * sub-runs do not wait for the session's slot, so several workers find work at once.
 */
const setupArb = fc.record({ maxAttempts: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 3 }), subRuns: fc.integer({ min: 0, max: 2 }) });

/** Besides 'ok': the typed errors each call may get in some interleaving. Anything else fails. */
const ALLOWED_ERRORS: { readonly [K in Op['kind']]: readonly ErrorCode[] } = {
  claim: [],
  renew: [ErrorCode.LEASE_LOST, ErrorCode.RUN_TERMINAL],
  // A run being cancelled can only be finished as cancelled; a running one cannot be.
  complete: [ErrorCode.LEASE_LOST, ErrorCode.RUN_TERMINAL, ErrorCode.INVALID_TRANSITION],
  fail: [ErrorCode.LEASE_LOST, ErrorCode.RUN_TERMINAL, ErrorCode.INVALID_TRANSITION],
  finishCancel: [ErrorCode.LEASE_LOST, ErrorCode.RUN_TERMINAL, ErrorCode.INVALID_TRANSITION],
  release: [ErrorCode.LEASE_LOST, ErrorCode.RUN_TERMINAL],
  // CONFLICT: the run is being cancelled, so its executor may not go on working; or the key is the
  // run's wait of the other kind.
  requestWait: [ErrorCode.LEASE_LOST, ErrorCode.RUN_TERMINAL, ErrorCode.CONFLICT],
  upsertStep: [ErrorCode.LEASE_LOST, ErrorCode.RUN_TERMINAL, ErrorCode.CONFLICT],
  crash: [],
  // CONFLICT: the wait was answered already, or the decision is of the other kind.
  answer: [ErrorCode.RUN_TERMINAL, ErrorCode.CONFLICT],
  cancel: [ErrorCode.RUN_TERMINAL],
  create: [ErrorCode.SESSION_BUSY],
  // CONFLICT: the parent is being cancelled.
  createSubRun: [ErrorCode.RUN_TERMINAL, ErrorCode.CONFLICT],
};

/** What a worker write that is fenced off answers. */
const FENCED = [ErrorCode.LEASE_LOST, ErrorCode.RUN_TERMINAL] as const;

/** What a call on a run that was already terminal may answer (a cancel of a cancelled run is idempotent). */
function allowedOnTerminal(op: Op, status: RunStatus): readonly string[] {
  switch (op.kind) {
    case 'renew':
    case 'complete':
    case 'fail':
    case 'finishCancel':
    case 'release':
    case 'requestWait':
    case 'upsertStep':
      return FENCED;
    case 'answer':
    case 'createSubRun':
      return [ErrorCode.RUN_TERMINAL];
    case 'cancel':
      return status === 'cancelled' ? [ErrorCode.RUN_TERMINAL, 'ok'] : [ErrorCode.RUN_TERMINAL];
    case 'crash':
      return ['ok'];
    // A claim never hands out a terminal run.
    case 'claim':
    case 'create':
      return [];
  }
}

interface HeldClaim {
  runId: string;
  token: number;
}

/** One example: its tenant, session and executor, the claims each worker still believes in, and what succeeded. */
interface World {
  admin: CallerScope;
  executor: string;
  sessionId: string;
  runIds: string[];
  claims: HeldClaim[][];
  waits: WaitView[];
  log: LeaseLog;
  /** The runs terminal at the current group's start. */
  ended: Set<string>;
}

/** A runs row as stored (snake_case columns). */
type RunRow = Record<string, unknown> & { id: string; status: RunStatus; parent_run_id: string | null; lease_token: number; lease_expires_at: Date | null };

interface Snapshot {
  rows: Map<string, RunRow>;
  views: Map<string, RunView>;
  waits: Map<string, unknown[]>;
  steps: Map<string, unknown[]>;
}

async function runRows(world: World): Promise<Map<string, RunRow>> {
  const rows = await fixture.dataSource.query<RunRow[]>(`SELECT * FROM runs WHERE tenant_id = $1 ORDER BY id`, [world.admin.tenant_id]);
  return new Map(rows.map((row) => [row.id, row]));
}

async function byRun(table: 'waits' | 'plan_steps', world: World): Promise<Map<string, unknown[]>> {
  const rows = await fixture.dataSource.query<{ run_id: string }[]>(`SELECT * FROM ${table} WHERE tenant_id = $1 ORDER BY id`, [world.admin.tenant_id]);
  const grouped = new Map<string, unknown[]>();
  for (const row of rows) grouped.set(row.run_id, [...(grouped.get(row.run_id) ?? []), row]);
  return grouped;
}

async function snapshot(world: World): Promise<Snapshot> {
  const rows = await runRows(world);
  const { data } = await bus.request(ListRuns, { scope: world.admin, query: { session_id: world.sessionId, limit: 100 } });
  return { rows, views: new Map(data.map((view) => [view.id, view])), waits: await byRun('waits', world), steps: await byRun('plan_steps', world) };
}

/** The session's slot: at most one active top-level run, and a queue only behind an active run (never stuck). */
function checkSlot(rows: Map<string, RunRow>): void {
  const topLevel = [...rows.values()].filter((row) => row.parent_run_id === null);
  const active = topLevel.filter((row) => ACTIVE.has(row.status));
  const queued = topLevel.filter((row) => row.status === 'queued');
  if (active.length > 1 || (queued.length > 0 && active.length === 0)) {
    throw new HistoryViolation(`session slot: ${active.length} active, ${queued.length} queued`, topLevel.map(({ id, status }) => ({ id, status })));
  }
}

async function attempt<T>(call: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: DomainError }> {
  try {
    return { ok: true, value: await call };
  } catch (error) {
    // Only typed errors are answers; anything else (a unique index violation, a timeout) fails the example.
    if (error instanceof DomainError) return { ok: false, error };
    throw error;
  }
}

function heldClaim(world: World, workerIndex: number, pickIndex: number): HeldClaim | undefined {
  const claims = world.claims[workerIndex];
  return claims.length === 0 ? undefined : claims[claims.length - 1 - (pickIndex % claims.length)];
}

/** Runs one call and records what succeeded in the world's lease log. */
async function execute(world: World, op: Op): Promise<Result> {
  const answered = <T>(runId: string | null, outcome: { ok: true; value: T } | { ok: false; error: DomainError }): Result =>
    outcome.ok ? { op, runId, code: 'ok' } : { op, runId, code: outcome.error.code, message: outcome.error.message };
  switch (op.kind) {
    case 'claim': {
      const workerId = WORKER_IDS[op.worker];
      const outcome = await attempt(bus.request(ClaimRun, { worker_id: workerId, executors: [world.executor], lease_ttl_ms: op.ttl }));
      const claimed = outcome.ok ? outcome.value : null;
      if (claimed !== null) {
        world.claims[op.worker].push({ runId: claimed.run.id, token: claimed.lease_token });
        world.log.claims.push({ workerId, runId: claimed.run.id, token: claimed.lease_token, view: claimed.run, until: Date.parse(claimed.lease_expires_at) });
      }
      return answered(claimed?.run.id ?? null, outcome);
    }
    case 'renew':
    case 'complete':
    case 'fail':
    case 'finishCancel':
    case 'release':
    case 'requestWait':
    case 'upsertStep':
      return leaseWrite(world, op, answered);
    case 'crash': {
      const claim = heldClaim(world, op.worker, op.pick);
      if (claim === undefined) return { op, runId: null, code: 'skipped' };
      // The worker is gone: whoever holds lease `token` now, it must be recovered within its TTL.
      await expectEventually(
        async () => {
          const row = (await runRows(world)).get(claim.runId)!;
          expect(row.lease_token === claim.token && LEASED.has(row.status)).toBe(false);
        },
        { timeoutMs: 2 * Math.max(...LEASE_TTLS_MS) + RECOVERY_MARGIN_MS },
      );
      return { op, runId: null, code: 'ok' };
    }
    case 'answer': {
      const ofEnded = world.waits.filter((wait) => world.ended.has(wait.run_id));
      const waits = op.late && ofEnded.length > 0 ? ofEnded : world.waits;
      const wait = waits.length === 0 ? undefined : waits[waits.length - 1 - (op.pick % waits.length)];
      if (wait === undefined) return { op, runId: null, code: 'skipped' };
      const input = op.decision === 'responded' ? { ok: true } : undefined;
      return answered(wait.run_id, await attempt(bus.request(AnswerWait, { scope: world.admin, run_id: wait.run_id, wait_id: wait.id, decision: op.decision, input })));
    }
    case 'cancel': {
      const ended = world.runIds.filter((id) => world.ended.has(id));
      const runIds = op.late && ended.length > 0 ? ended : world.runIds;
      const runId = runIds[op.run % runIds.length];
      return answered(runId, await attempt(bus.request(CancelRun, { scope: world.admin, run_id: runId, body: { reason: 'property test' } })));
    }
    case 'create': {
      if (world.runIds.length >= MAX_RUNS) return { op, runId: null, code: 'skipped' };
      const body = { session_id: world.sessionId, busy_policy: op.policy, max_attempts: op.maxAttempts };
      const outcome = await attempt(bus.request(CreateRun, { scope: world.admin, body }));
      if (outcome.ok) world.runIds.push(outcome.value.id);
      return answered(null, outcome);
    }
    case 'createSubRun': {
      if (world.runIds.length >= MAX_RUNS) return { op, runId: null, code: 'skipped' };
      const parentId = world.runIds[op.parent % world.runIds.length];
      const outcome = await attempt(bus.request(CreateRun, { scope: world.admin, body: { parent_run_id: parentId, max_attempts: 2 } }));
      if (outcome.ok) world.runIds.push(outcome.value.id);
      return answered(parentId, outcome);
    }
  }
}

async function leaseWrite(
  world: World,
  op: Extract<Op, { kind: LeaseWriteKind }>,
  answered: <T>(runId: string | null, outcome: { ok: true; value: T } | { ok: false; error: DomainError }) => Result,
): Promise<Result> {
  const claim = heldClaim(world, op.worker, op.pick);
  // A worker with nothing claimed yet claims first: sequences get to the writes sooner.
  if (claim === undefined) return execute(world, { kind: 'claim', worker: op.worker, ttl: LEASE_TTLS_MS[op.pick % LEASE_TTLS_MS.length] });
  const { runId } = claim;
  const token = claim.token + (op.forge ? 1 : 0);
  const lease = { tenant_id: world.admin.tenant_id, run_id: runId, lease_token: token };
  const ending = (view: RunView) => world.log.endings.push({ runId, token, view });
  switch (op.kind) {
    case 'renew': {
      const outcome = await attempt(bus.request(RenewLease, { ...lease, lease_ttl_ms: op.ttl }));
      if (outcome.ok) {
        const until = Date.parse(outcome.value.lease_expires_at);
        world.log.renewals.push({ runId, token, at: until - op.ttl, until });
      }
      return { ...answered(runId, outcome), token };
    }
    case 'complete': {
      const outcome = await attempt(bus.request(CompleteRun, { ...lease, output: { by: WORKER_IDS[op.worker] } }));
      if (outcome.ok) ending(outcome.value);
      return { ...answered(runId, outcome), token };
    }
    case 'fail': {
      const outcome = await attempt(bus.request(FailRun, { ...lease, failure_message: `failed by ${WORKER_IDS[op.worker]}` }));
      if (outcome.ok) ending(outcome.value);
      return { ...answered(runId, outcome), token };
    }
    case 'finishCancel': {
      const outcome = await attempt(bus.request(FinishCancel, lease));
      if (outcome.ok) ending(outcome.value);
      return { ...answered(runId, outcome), token };
    }
    case 'release': {
      const outcome = await attempt(bus.request(ReleaseRun, lease));
      if (outcome.ok) ending(outcome.value);
      return { ...answered(runId, outcome), token };
    }
    case 'requestWait': {
      const outcome = await attempt(bus.request(RequestWait, { ...lease, key: op.key, kind: op.waitKind, prompt: `${op.waitKind} ${op.key}?` }));
      if (outcome.ok && outcome.value.suspended) {
        world.waits.push(outcome.value.wait);
        world.log.suspensions.push({ runId, token, wait: outcome.value.wait });
      }
      return { ...answered(runId, outcome), token };
    }
    case 'upsertStep': {
      // Evidence is appended on every upsert, so each success writes (and publishes) a change.
      const evidence = [{ kind: 'text', text: `by ${WORKER_IDS[op.worker]}` }];
      const outcome = await attempt(bus.request(UpsertPlanStep, { ...lease, key: op.key, title: `step ${op.key}`, status: 'in_progress', evidence }));
      if (outcome.ok) world.log.steps.push({ runId, token, view: outcome.value });
      return { ...answered(runId, outcome), token };
    }
  }
}

/** Every answer is 'ok', 'skipped' or a typed error the call may get; a call on a run that was terminal got RUN_TERMINAL (or LEASE_LOST). */
function checkResults(results: Result[], before: Snapshot): void {
  for (const result of results) {
    const { op, code, message } = result;
    // CONFLICT is also what an optimistic-concurrency miss answers: that one is a bug here, never a typed outcome.
    const typed = (ALLOWED_ERRORS[op.kind] as readonly string[]).includes(code) && !/concurrently/.test(message ?? '');
    if (code !== 'ok' && code !== 'skipped' && !typed) throw new HistoryViolation(`${op.kind} answered ${code}: ${message}`, op);
    const row = result.runId === null ? undefined : before.rows.get(result.runId);
    if (row === undefined || code === 'skipped') continue;
    if (TERMINAL.has(row.status) && !allowedOnTerminal(op, row.status).includes(code)) {
      throw new HistoryViolation(`${op.kind} on a run that was ${row.status} answered ${code}`, { op, runId: result.runId });
    }
    // Tokens only grow, and only a claim (which takes a new one) leases a run: a token that was
    // stale, or current on an unleased run, when the group started can never write in it.
    const stale = result.token !== undefined && (result.token < row.lease_token || (result.token === row.lease_token && !LEASED.has(row.status)));
    if (stale && !(FENCED as readonly string[]).includes(code)) {
      throw new HistoryViolation(`${op.kind} with the stale token ${result.token} (the run's was ${row.lease_token}, ${row.status}) answered ${code}`, { op, runId: result.runId });
    }
  }
}

/** A run that was terminal before a group is exactly as it was after it: row, view, waits and plan steps. */
function checkTerminalUnchanged(before: Snapshot, after: Snapshot): void {
  for (const [id, row] of before.rows) {
    if (!TERMINAL.has(row.status)) continue;
    const unchanged =
      isDeepStrictEqual(after.rows.get(id), row) &&
      isDeepStrictEqual(after.views.get(id), before.views.get(id)) &&
      isDeepStrictEqual(after.waits.get(id), before.waits.get(id)) &&
      isDeepStrictEqual(after.steps.get(id), before.steps.get(id));
    if (!unchanged) throw new HistoryViolation(`terminal run ${id} changed`, { before: before.views.get(id), after: after.views.get(id) });
  }
}

async function newWorld(setup: { maxAttempts: number[]; subRuns: number }): Promise<World> {
  const { admin } = newTenant();
  const executor = uniqueExecutor();
  const session = await bus.request(CreateSession, { scope: admin, body: { route_policy: { executor } } });
  const world: World = { admin, executor, sessionId: session.id, runIds: [], claims: WORKER_IDS.map(() => []), waits: [], log: emptyLeaseLog(), ended: new Set() };
  for (const maxAttempts of setup.maxAttempts) {
    world.runIds.push((await bus.request(CreateRun, { scope: admin, body: { session_id: session.id, max_attempts: maxAttempts } })).id);
  }
  for (let i = 0; i < setup.subRuns; i++) {
    world.runIds.push((await bus.request(CreateRun, { scope: admin, body: { parent_run_id: world.runIds[0], max_attempts: 2 } })).id);
  }
  return world;
}

/**
 * Once every worker has stopped, only the sweeper acts: every lease is recovered within its TTL
 * (plus the margin), leaving each run terminal or waiting for a worker or a principal, leaseless.
 */
async function quiesce(world: World): Promise<void> {
  const rows = await expectEventually(
    async () => {
      const current = await runRows(world);
      expect([...current.values()].filter((row) => LEASED.has(row.status)).map(({ id, status }) => ({ id, status }))).toEqual([]);
      return current;
    },
    { timeoutMs: Math.max(0, latestLeaseExpiry(world.log) - Date.now()) + RECOVERY_MARGIN_MS },
  );
  for (const row of rows.values()) {
    const settled = TERMINAL.has(row.status) || (['queued', 'pending', 'waiting_for_approval', 'waiting_for_input'].includes(row.status) && row.lease_expires_at === null);
    if (!settled) throw new HistoryViolation(`run ${row.id} is ${row.status} with lease until ${String(row.lease_expires_at)} after recovery`);
  }
  checkSlot(rows);
}

/**
 * A well-behaved worker and principal finish everything left: claim and complete whatever is
 * pending, answer whatever waits. Every run ends — the session's queue moves on, nothing is stuck.
 */
async function drain(world: World): Promise<void> {
  for (let round = 0; ; round++) {
    const rows = await runRows(world);
    checkSlot(rows);
    const open = [...rows.values()].filter((row) => !TERMINAL.has(row.status));
    if (open.length === 0) return;
    if (round > 4 * rows.size + 4) throw new HistoryViolation('draining does not end', open.map(({ id, status }) => ({ id, status })));
    const claim = await execute(world, { kind: 'claim', worker: DRAINER, ttl: 60_000 });
    if (claim.runId !== null) {
      const completed = await execute(world, { kind: 'complete', worker: DRAINER, pick: 0, forge: false });
      if (completed.code !== 'ok') throw new HistoryViolation(`the drainer's completion answered ${completed.code}: ${completed.message}`);
      continue;
    }
    const waits = await fixture.dataSource.query<{ id: string; run_id: string; kind: WaitKind }[]>(
      `SELECT id, run_id, kind FROM waits WHERE tenant_id = $1 AND status = 'open' ORDER BY id`,
      [world.admin.tenant_id],
    );
    if (waits.length === 0) throw new HistoryViolation('stuck: runs left, but nothing to claim or answer', open.map(({ id, status }) => ({ id, status })));
    for (const wait of waits) {
      const body = wait.kind === 'approval' ? { decision: 'approved' as const } : { decision: 'responded' as const, input: { ok: true } };
      await bus.request(AnswerWait, { scope: world.admin, run_id: wait.run_id, wait_id: wait.id, ...body });
    }
  }
}

/** Waits until the tenant's events are all recorded, in the order the outbox committed them; returns them. */
async function recordedEvents(world: World) {
  return expectEventually(async () => {
    const stored = await fixture.dataSource.query<{ id: string }[]>(`SELECT id FROM outbox_events WHERE tenant_id = $1 ORDER BY position`, [world.admin.tenant_id]);
    const recorded = fixture.events.filter((event) => event.tenant_id === world.admin.tenant_id);
    expect(recorded.map((event) => event.id)).toEqual(stored.map((row) => row.id));
    return recorded;
  });
}

describe('runs under random concurrent workers, users and lease expiry', () => {
  it('never reopen a terminal run, never let two workers hold one run, and recover every crashed worker’s run (DESIGN §5.2–4)', async () => {
    await fc.assert(
      fc.asyncProperty(setupArb, groupsArb, async (setup, groups) => {
        const world = await newWorld(setup);
        for (const group of groups) {
          const before = await snapshot(world);
          world.ended = new Set([...before.rows.values()].filter((row) => TERMINAL.has(row.status)).map((row) => row.id));
          const results = await Promise.all(group.map((op) => execute(world, op)));
          const after = await snapshot(world);
          checkResults(results, before);
          checkTerminalUnchanged(before, after);
          checkSlot(after.rows);
        }
        await quiesce(world);
        await drain(world);

        const events = await recordedEvents(world);
        const rows = await runRows(world);
        for (const [id, row] of rows) {
          checkRunHistory(
            id,
            events.filter((event) => event.run_id === id),
            row.status,
            world.log,
            RECOVERY_MARGIN_MS,
          );
        }
        checkSessionSlot(world.sessionId, events);
      }),
      // Each example takes about a second; a failure's shrinking is cut short rather than running for minutes.
      { numRuns: 40, plugins: [fc.interruptAfterTimeLimit(150_000)] },
    );
  }, 240_000);
});
