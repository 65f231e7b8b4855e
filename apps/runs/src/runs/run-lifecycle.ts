import { Inject, Injectable } from '@nestjs/common';
import { ACTIVE_RUN_STATUSES, RunStatusChanged, TERMINAL_RUN_STATUSES, WaitClosed, type RunStatus } from '@runyard/contracts';
import { newEvent, type OutboxEvents } from '@runyard/messaging';
import type { EntityManager } from 'typeorm';
import { toWaitView } from '../waits/wait.mapper.js';
import { WaitsRepository } from '../waits/waits.repository.js';
import type { RunEntity } from './run.entity.js';
import { runEventScope, toRunView } from './run.mapper.js';
import { transition } from './run-state-machine.js';
import { RUNS_SETTINGS, type RunsSettings } from './runs-settings.js';
import { RunsRepository, type RunChanges } from './runs.repository.js';

export interface CancelledBy {
  principalId: string | null;
  reason: string | null;
}

/**
 * Applies status changes inside a caller's transaction: checks each against the state machine, writes
 * it with optimistic concurrency, records its event in the outbox, and keeps the session queue
 * moving. Callers hold the session queue lock (when the run is top-level in a session) and the run's
 * row lock, in that order: RunsRepository.lockForChange takes both.
 */
@Injectable()
export class RunLifecycle {
  constructor(
    private readonly runs: RunsRepository,
    private readonly waits: WaitsRepository,
    @Inject(RUNS_SETTINGS) private readonly settings: RunsSettings,
  ) {}

  /**
   * Moves `run` to `to` with `changes`, updating `run` in place. When a top-level run gives up its
   * session's slot, the next queued run takes it in the same transaction (unless `promote` is false:
   * an interrupting run takes the slot itself). A suspended run that ends (cancelled, or expired when
   * its wait timed out) closes its open waits with it, so no answer can arrive for an ended run.
   */
  async move(tx: EntityManager, events: OutboxEvents, run: RunEntity, to: RunStatus, changes: RunChanges = {}, promote = true): Promise<RunEntity> {
    const { from } = transition(run, to);
    const now = new Date();
    const patch: RunChanges = { ...changes, status: to, updatedAt: now };
    if (TERMINAL_RUN_STATUSES.has(to)) patch.finishedAt = now;
    // Only a running or cancelling run has a live lease; the token stays, so stale holders stay fenced off.
    if (to !== 'running' && to !== 'cancelling') patch.leaseExpiresAt = null;
    await this.runs.applyChange(tx, run.tenantId, run.id, run.version, patch);
    Object.assign(run, patch, { version: run.version + 1 });
    if (isSuspended(from) && TERMINAL_RUN_STATUSES.has(to)) await this.closeOpenWaits(tx, events, run, to === 'expired' ? 'expired' : 'cancelled', now);
    events.add(newEvent(RunStatusChanged, runEventScope(run), { run: toRunView(run), from, to }));
    if (promote && freesSessionSlot(run, from, to) && run.sessionId !== null) await this.promoteNext(tx, events, run.tenantId, run.sessionId);
    return run;
  }

  /**
   * Cancels `run` and, recursively, its unfinished sub-runs: a running run goes to cancelling (its
   * worker stops it), any other non-terminal run straight to cancelled. Idempotent on a run already
   * cancelling or cancelled; RUN_TERMINAL on one that ended otherwise.
   */
  async cancel(tx: EntityManager, events: OutboxEvents, run: RunEntity, by: CancelledBy, promote = true): Promise<RunEntity> {
    if (run.status === 'cancelling' || run.status === 'cancelled') return run;
    const to: RunStatus = run.status === 'running' ? 'cancelling' : 'cancelled';
    const changes: RunChanges = { cancelReason: by.reason, cancelledBy: by.principalId };
    if (to === 'cancelling') {
      // The worker gets a grace period to stop; then the sweeper cancels the run without it, so a
      // worker that ignores the cancel cannot hold the session's slot.
      const graceEnds = new Date(Date.now() + this.settings.cancelGraceMs);
      changes.deadlineAt = run.deadlineAt !== null && run.deadlineAt < graceEnds ? run.deadlineAt : graceEnds;
    }
    await this.move(tx, events, run, to, changes, promote);
    for (const child of await this.runs.lockUnfinishedChildren(tx, run.tenantId, run.id)) {
      await this.cancel(tx, events, child, { principalId: by.principalId, reason: `parent run ${run.id} cancelled` });
    }
    return run;
  }

  /** Only a suspended run has open waits (opening one suspends it, answering the last resumes it). */
  private async closeOpenWaits(tx: EntityManager, events: OutboxEvents, run: RunEntity, status: 'expired' | 'cancelled', now: Date): Promise<void> {
    const open = await this.waits.lockOpenInRun(tx, run.tenantId, run.id);
    await this.waits.applyChange(
      tx,
      run.tenantId,
      open.map((wait) => wait.id),
      { status, updatedAt: now },
    );
    for (const wait of open) {
      Object.assign(wait, { status, updatedAt: now });
      events.add(newEvent(WaitClosed, runEventScope(run), toWaitView(wait)));
    }
  }

  private async promoteNext(tx: EntityManager, events: OutboxEvents, tenantId: string, sessionId: string): Promise<void> {
    const next = await this.runs.lockNextQueuedInSession(tx, tenantId, sessionId);
    if (next !== null) await this.move(tx, events, next, 'pending');
  }
}

function isSuspended(status: RunStatus): boolean {
  return status === 'waiting_for_approval' || status === 'waiting_for_input';
}

/** A top-level run in a session leaving the active statuses frees the session's one slot. */
function freesSessionSlot(run: RunEntity, from: RunStatus, to: RunStatus): boolean {
  return run.parentRunId === null && ACTIVE_RUN_STATUSES.has(from) && !ACTIVE_RUN_STATUSES.has(to);
}
