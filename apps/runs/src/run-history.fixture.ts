import { isDeepStrictEqual } from 'node:util';
import {
  PlanStepAdded,
  PlanStepUpdated,
  RunCreated,
  RunStatusChanged,
  WaitOpened,
  type EventEnvelope,
  type PlanStepView,
  type RunStatus,
  type RunStatusChangedData,
  type RunView,
  type WaitView,
} from '@runyard/contracts';

/**
 * DESIGN §4's transitions, written out again here rather than imported from run-state-machine.ts,
 * so that a wrong table there fails the checks below instead of being copied by them.
 */
const DESIGN_TRANSITIONS: { readonly [From in RunStatus]: readonly RunStatus[] } = {
  queued: ['pending', 'cancelled', 'expired'],
  pending: ['running', 'cancelled', 'expired'],
  running: ['waiting_for_approval', 'waiting_for_input', 'completed', 'failed', 'pending', 'cancelling'],
  waiting_for_approval: ['pending', 'cancelled', 'expired'],
  waiting_for_input: ['pending', 'cancelled', 'expired'],
  cancelling: ['cancelled'],
  completed: [],
  failed: [],
  cancelled: [],
  expired: [],
};

export const TERMINAL: ReadonlySet<RunStatus> = new Set<RunStatus>(['completed', 'failed', 'cancelled', 'expired']);
export const ACTIVE: ReadonlySet<RunStatus> = new Set<RunStatus>(['pending', 'running', 'waiting_for_approval', 'waiting_for_input', 'cancelling']);
/** The statuses in which a run has a live lease. */
export const LEASED: ReadonlySet<RunStatus> = new Set<RunStatus>(['running', 'cancelling']);

/**
 * Every successful worker call of a test, as its replies told it: what the history checks hold the
 * recorded events against. `token` is the lease token the call presented.
 */
export interface LeaseLog {
  claims: { workerId: string; runId: string; token: number; view: RunView; until: number }[];
  renewals: { runId: string; token: number; at: number; until: number }[];
  /** Complete, fail, finish-cancel and release: the run as the reply showed it. */
  endings: { runId: string; token: number; view: RunView }[];
  /** Wait requests that suspended the run. */
  suspensions: { runId: string; token: number; wait: WaitView }[];
  steps: { runId: string; token: number; view: PlanStepView }[];
}

export function emptyLeaseLog(): LeaseLog {
  return { claims: [], renewals: [], endings: [], suspensions: [], steps: [] };
}

/** The latest lease expiry any reply announced (epoch ms), or 0. */
export function latestLeaseExpiry(log: LeaseLog): number {
  return Math.max(0, ...log.claims.map((claim) => claim.until), ...log.renewals.map((renewal) => renewal.until));
}

/** One claim's lease, from the run's n-th move to running (its token is n) to its first move out of running/cancelling. */
interface Epoch {
  token: number;
  startIndex: number;
  startAt: number;
  endIndex: number | null;
  endAt: number | null;
  end: RunStatusChangedData | null;
  /** The latest expiry the claim and its renewals announced. */
  leaseUntil: number;
  /** Ended by a call of the lease holder (complete, fail, finish-cancel, release, a suspending wait). */
  endedByHolder: boolean;
}

export class HistoryViolation extends Error {
  constructor(message: string, details?: unknown) {
    super(details === undefined ? message : `${message}\n${JSON.stringify(details, null, 1)}`);
    this.name = 'HistoryViolation';
  }
}

function check(condition: boolean, message: string, details?: unknown): asserts condition {
  if (!condition) throw new HistoryViolation(message, details);
}

function statusChange(event: EventEnvelope): RunStatusChangedData | null {
  return event.subject === RunStatusChanged.subject ? (event.data as RunStatusChangedData) : null;
}

/** A status change's time: the `updated_at` it wrote (the moment of the change in its transaction). */
function changedAt(change: RunStatusChangedData): number {
  return Date.parse(change.run.updated_at);
}

/**
 * Guarantees 2 and 3 over one run's events (in publishing order) and the worker calls that
 * succeeded on it:
 *  - the status changes are a path through DESIGN §4's table from the created status, and nothing at
 *    all follows a terminal status; the stored status is where the path ends;
 *  - the n-th claim got token n and its reply is the n-th move to running (fencing tokens only grow,
 *    one claim per lease), and every successful write with token t happened inside lease t;
 *  - a lease ends before the next one starts, and one the holder did not give up ended only once it
 *    had expired, and at most `recoveryMarginMs` after that (the sweeper recovers it in time).
 */
export function checkRunHistory(runId: string, events: EventEnvelope[], storedStatus: RunStatus, log: LeaseLog, recoveryMarginMs: number): void {
  const context = (extra: Record<string, unknown> = {}) => ({ runId, ...extra, events: events.map(describe) });
  const created = events[0];
  check(created?.subject === RunCreated.subject, 'the first event of a run is run.created', context());
  let status = (created.data as RunView).status;
  const epochs: Epoch[] = [];
  events.forEach((event, index) => {
    if (index === 0) return;
    check(!TERMINAL.has(status), `an event followed the terminal status ${status}`, context({ index }));
    const change = statusChange(event);
    if (change === null) return;
    check(change.from === status, `status change from ${change.from}, but the run was ${status}`, context({ index }));
    check(DESIGN_TRANSITIONS[change.from].includes(change.to), `${change.from} → ${change.to} is not an allowed transition`, context({ index }));
    check(change.run.status === change.to, 'a status change carries the run as changed', context({ index }));
    if (change.to === 'running') {
      epochs.push({ token: epochs.length + 1, startIndex: index, startAt: changedAt(change), endIndex: null, endAt: null, end: null, leaseUntil: 0, endedByHolder: false });
    } else if (LEASED.has(change.from) && !LEASED.has(change.to)) {
      const epoch = epochs.at(-1)!;
      Object.assign(epoch, { endIndex: index, endAt: changedAt(change), end: change });
    }
    status = change.to;
  });
  check(storedStatus === status, `the stored status ${storedStatus} is not the last event's ${status}`, context());

  const claims = log.claims.filter((claim) => claim.runId === runId).sort((a, b) => a.token - b.token);
  check(
    isDeepStrictEqual(
      claims.map((claim) => claim.token),
      epochs.map((epoch) => epoch.token),
    ),
    'each claim got the next token, and each move to running was one claim',
    context({ tokens: claims.map((claim) => claim.token) }),
  );
  for (const claim of claims) {
    const epoch = epochs[claim.token - 1];
    const started = statusChange(events[epoch.startIndex])!;
    check(isDeepStrictEqual(started.run, claim.view), `claim ${claim.token} is not the run's move to running number ${claim.token}`, context({ claim }));
    check(started.run.worker_id === claim.workerId, `lease ${claim.token} went to ${started.run.worker_id}, not its claimer ${claim.workerId}`, context());
    epoch.leaseUntil = claim.until;
  }
  const epochOf = (token: number, call: string): Epoch => {
    const epoch = epochs[token - 1];
    check(epoch !== undefined, `${call} with token ${token} succeeded, but no claim got that token`, context());
    return epoch;
  };
  const inside = (epoch: Epoch, index: number) => index > epoch.startIndex && (epoch.endIndex === null || index < epoch.endIndex);

  // A renewal sets the lease to its TTL from then, shorter or longer than before: the latest one
  // counts (renewals of one lease take turns on the run's row; of two in the same millisecond, whose
  // order is unknown, the earlier expiry is taken, which judges the service the more leniently).
  const renewals = log.renewals.filter((entry) => entry.runId === runId).sort((a, b) => a.at - b.at || b.until - a.until);
  for (const renewal of renewals) {
    const epoch = epochOf(renewal.token, 'a renewal');
    const during = renewal.at >= epoch.startAt && (epoch.endAt === null || renewal.at <= epoch.endAt);
    check(during, `a renewal with token ${renewal.token} succeeded outside that lease`, context({ renewal, epoch }));
    epoch.leaseUntil = renewal.until;
  }
  for (const ending of log.endings.filter((entry) => entry.runId === runId)) {
    const epoch = epochOf(ending.token, 'a completion, failure, finish-cancel or release');
    const index = events.findIndex((event) => isDeepStrictEqual(statusChange(event)?.run, ending.view));
    check(index >= 0 && index === epoch.endIndex, `a write with token ${ending.token} that ended the run is not the end of lease ${ending.token}`, context({ ending, index, epoch }));
    epoch.endedByHolder = true;
  }
  for (const suspension of log.suspensions.filter((entry) => entry.runId === runId)) {
    const epoch = epochOf(suspension.token, 'a wait request');
    const index = events.findIndex((event) => event.subject === WaitOpened.subject && (event.data as WaitView).id === suspension.wait.id);
    const end = epoch.end?.to;
    check(inside(epoch, index) && (end === 'waiting_for_approval' || end === 'waiting_for_input'), `a wait opened with token ${suspension.token} outside that lease`, context({ suspension, index, epoch }));
    epoch.endedByHolder = true;
  }
  for (const step of log.steps.filter((entry) => entry.runId === runId)) {
    const epoch = epochOf(step.token, 'a plan step upsert');
    const index = events.findIndex((event) => (event.subject === PlanStepAdded.subject || event.subject === PlanStepUpdated.subject) && isDeepStrictEqual(event.data, step.view));
    check(inside(epoch, index), `a plan step written with token ${step.token} outside that lease`, context({ step, index, epoch }));
  }

  for (const epoch of epochs) {
    const next = epochs[epoch.token];
    if (next !== undefined) {
      check(epoch.endIndex !== null && epoch.endIndex < next.startIndex, `lease ${next.token} started before lease ${epoch.token} ended`, context());
      check(epoch.endedByHolder || next.startAt >= epoch.leaseUntil, `lease ${next.token} was handed out while lease ${epoch.token} was unexpired`, context({ epoch, next }));
    }
    if (epoch.end === null || epoch.endedByHolder) continue;
    // Nobody but its holder or the sweeper ends a lease: the sweeper retries, fails as crashed, or
    // finishes a cancel (grace period over or lease expired).
    const { to, run } = epoch.end;
    check(to === 'pending' || to === 'cancelled' || (to === 'failed' && run.failure_class === 'crashed'), `lease ${epoch.token} ended in ${to} without its holder`, context({ epoch }));
    if (to !== 'cancelled') check(epoch.endAt! >= epoch.leaseUntil, `lease ${epoch.token} was taken back before it expired`, context({ epoch }));
    check(epoch.endAt! <= epoch.leaseUntil + recoveryMarginMs, `lease ${epoch.token} was recovered ${epoch.endAt! - epoch.leaseUntil} ms after it expired`, context({ epoch }));
  }
}

/**
 * One session's slot over the tenant's events (in publishing order): at no point are two of its
 * top-level runs active.
 */
export function checkSessionSlot(sessionId: string, events: EventEnvelope[]): void {
  const topLevel = new Map<string, RunStatus>();
  for (const event of events) {
    if (event.subject === RunCreated.subject) {
      const run = event.data as RunView;
      if (run.session_id === sessionId && run.parent_run_id === null) topLevel.set(run.id, run.status);
    }
    const change = statusChange(event);
    if (change !== null && topLevel.has(change.run.id)) topLevel.set(change.run.id, change.to);
    const active = [...topLevel].filter(([, status]) => ACTIVE.has(status));
    check(active.length <= 1, `session ${sessionId} had ${active.length} active runs at once`, { event: describe(event), active });
  }
}

function describe(event: EventEnvelope): string {
  const change = statusChange(event);
  return change === null ? event.subject : `${change.from} → ${change.to} (${change.run.updated_at}, worker ${change.run.worker_id ?? '-'})`;
}
