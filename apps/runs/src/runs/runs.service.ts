import { Inject, Injectable } from '@nestjs/common';
import {
  DomainError,
  ErrorCode,
  GetSession,
  ownerFilter,
  RUN_DEFAULT_MAX_ATTEMPTS,
  RunCreated,
  TERMINAL_RUN_STATUSES,
  type CallerScope,
  type CancelRunBody,
  type CreateRunBody,
  type InputItem,
  type ListRunsQuery,
  type Page,
  type ReplyTarget,
  type RunStatus,
  type RunView,
  type SessionView,
} from '@runyard/contracts';
import { BUS, newEvent, traceContext, TransactionalOutbox, type Bus, type OutboxEvents } from '@runyard/messaging';
import { decodeIdCursor, encodeIdCursor, parseTimestamp, requestFingerprint, rowsToFetch, toPage, toPlainJson } from '@runyard/persistence';
import type { EntityManager } from 'typeorm';
import { v7 as uuidv7 } from 'uuid';
import { resolveRoute } from './route.js';
import { runNotFound } from './run-errors.js';
import type { RunEntity, StoredInputItem, StoredReplyTarget } from './run.entity.js';
import { runEventScope, toRunView } from './run.mapper.js';
import { RunLifecycle } from './run-lifecycle.js';
import { RUNS_SETTINGS, type RunsSettings } from './runs-settings.js';
import { IdempotencyKeyTaken, RunsRepository, type KeyedRun, type RunListFilters } from './runs.repository.js';

/** The caller's idempotency key and the fingerprint of the body it came with. */
interface Idempotency {
  key: string;
  fingerprint: string;
}

/** What principals do with runs: create, read, list and cancel, each within the caller's scope. */
@Injectable()
export class RunsService {
  constructor(
    private readonly runs: RunsRepository,
    private readonly lifecycle: RunLifecycle,
    private readonly outbox: TransactionalOutbox,
    @Inject(BUS) private readonly bus: Bus,
    @Inject(RUNS_SETTINGS) private readonly settings: RunsSettings,
  ) {}

  /**
   * A top-level run in a session takes the session's slot (pending) when it is free; when it is
   * busy the busy policy decides: `enqueue` (queued, FIFO), `reject` (SESSION_BUSY) or `interrupt`
   * (the active run is cancelled and this one runs next). Sub-runs and runs outside a session are
   * pending at once. The session (or parent) must be visible to the caller.
   *
   * With an idempotency key this principal already used in the tenant, the run it created is
   * returned as it is now and nothing else happens (no busy policy, no event) — also for a duplicate
   * racing the original: the session queue lock or the parent's row lock orders the two, and where
   * neither applies the unique index does. That is for the same body (by fingerprint: canonical JSON,
   * so member order does not matter); the key with another body is IDEMPOTENCY_KEY_REUSED.
   */
  async create(scope: CallerScope, body: CreateRunBody, idempotencyKey?: string): Promise<RunView> {
    const idempotency: Idempotency | null = idempotencyKey === undefined ? null : { key: idempotencyKey, fingerprint: requestFingerprint(body) };
    if (idempotency !== null) {
      // A retry is answered before anything the original needed is checked again (its session may be archived by now).
      const earlier = await this.runs.findByIdempotencyKey(scope.tenant_id, ownerFilter(scope), scope.principal_id, idempotency.key);
      if (earlier !== null) return this.retried(earlier, idempotency);
    }
    const parent = body.parent_run_id === undefined ? null : await this.visibleParent(scope, body.parent_run_id, body.session_id);
    const sessionId = parent === null ? (body.session_id ?? null) : parent.sessionId;
    // Asked before the transaction opens: the sessions service may share this database (standalone).
    const session = sessionId === null ? null : await this.bus.request(GetSession, { scope, session_id: sessionId });
    if (session !== null && session.status === 'archived') {
      throw new DomainError(ErrorCode.SESSION_ARCHIVED, `session ${session.id} is archived`);
    }
    const run = this.newRun(scope, body, parent, session, idempotency);

    try {
      return await this.outbox.run(async (tx, events) => {
        if (parent !== null) await this.assertParentOpen(tx, parent);
        else if (run.sessionId !== null) await this.runs.lockSessionQueue(tx, run.tenantId, run.sessionId);
        if (idempotency !== null) {
          // Looked up again under the lock: a duplicate that passed the first lookup finds the original here.
          const earlier = await this.runs.findByIdempotencyKey(scope.tenant_id, ownerFilter(scope), scope.principal_id, idempotency.key, tx);
          if (earlier !== null) return this.retried(earlier, idempotency, tx);
        }
        if (parent === null && run.sessionId !== null) await this.takeSlotOrQueue(tx, events, scope, run, body);
        await this.runs.insertRun(tx, run);
        const positions = await this.runs.queuePositions(run.tenantId, [run], tx);
        const view = toRunView(run, positions.get(run.id) ?? null);
        events.add(newEvent(RunCreated, runEventScope(run), view));
        return view;
      });
    } catch (error) {
      if (!(error instanceof IdempotencyKeyTaken) || idempotency === null) throw error;
      // A duplicate with nothing to serialise on committed first (its transaction is over): answer with its run.
      const winner = await this.runs.findByIdempotencyKey(scope.tenant_id, ownerFilter(scope), scope.principal_id, idempotency.key);
      if (winner === null) throw keyReused();
      return this.retried(winner, idempotency);
    }
  }

  async get(scope: CallerScope, runId: string): Promise<RunView> {
    const run = await this.runs.findVisible(scope.tenant_id, ownerFilter(scope), runId);
    if (run === null) throw runNotFound(runId);
    return this.currentView(run);
  }

  /** Newest first, keyset-paginated on the id. */
  async list(scope: CallerScope, query: ListRunsQuery): Promise<Page<RunView>> {
    const filters: RunListFilters = {
      sessionId: query.session_id,
      parentRunId: query.parent_run_id,
      taskId: query.task_id,
      jobId: query.job_id,
      statuses: query.status === undefined ? undefined : (query.status.split(',') as RunStatus[]),
      source: query.source,
      createdAfter: query.created_after === undefined ? undefined : parseTimestamp('created_after', query.created_after),
      createdBefore: query.created_before === undefined ? undefined : parseTimestamp('created_before', query.created_before),
    };
    const beforeId = query.cursor === undefined ? undefined : decodeIdCursor(query.cursor);
    const rows = await this.runs.listVisible(scope.tenant_id, ownerFilter(scope), filters, { beforeId, take: rowsToFetch(query.limit) });
    const positions = await this.runs.queuePositions(scope.tenant_id, rows);
    return toPage(rows, query.limit, (run) => toRunView(run, positions.get(run.id) ?? null), (run) => encodeIdCursor(run.id));
  }

  /**
   * Cancels the run and its unfinished sub-runs (see RunLifecycle.cancel); the session's next queued
   * run moves up in the same transaction. Idempotent; RUN_TERMINAL on a run that ended otherwise.
   */
  cancel(scope: CallerScope, runId: string, body: CancelRunBody): Promise<RunView> {
    return this.outbox.run(async (tx, events) => {
      const run = await this.runs.lockForChange(tx, scope.tenant_id, runId, ownerFilter(scope));
      if (run === null) throw runNotFound(runId);
      await this.lifecycle.cancel(tx, events, run, { principalId: scope.principal_id, reason: body.reason ?? null });
      return toRunView(run);
    });
  }

  /** The run an earlier create with this key made, as it is now: for the same body only. */
  private retried(earlier: KeyedRun, idempotency: Idempotency, manager?: EntityManager): Promise<RunView> {
    if (earlier.fingerprint !== idempotency.fingerprint) throw keyReused();
    return this.currentView(earlier.run, manager);
  }

  /** The run as it is now, with its queue position. */
  private async currentView(run: RunEntity, manager?: EntityManager): Promise<RunView> {
    const positions = await this.runs.queuePositions(run.tenantId, [run], manager);
    return toRunView(run, positions.get(run.id) ?? null);
  }

  private async visibleParent(scope: CallerScope, parentRunId: string, sessionId: string | undefined): Promise<RunEntity> {
    const parent = await this.runs.findVisible(scope.tenant_id, ownerFilter(scope), parentRunId);
    if (parent === null) throw runNotFound(parentRunId);
    if (sessionId !== undefined && sessionId !== parent.sessionId) {
      const message = 'a sub-run belongs to its parent run’s session';
      throw new DomainError(ErrorCode.VALIDATION_FAILED, message, { errors: [{ field: 'body.session_id', message }] });
    }
    return parent;
  }

  /** A sub-run may start only under a parent that is still going (not ended, not being cancelled). */
  private async assertParentOpen(tx: EntityManager, parent: RunEntity): Promise<void> {
    const locked = await this.runs.lockRow(tx, parent.tenantId, parent.id);
    if (locked === null) throw runNotFound(parent.id);
    if (TERMINAL_RUN_STATUSES.has(locked.status)) throw new DomainError(ErrorCode.RUN_TERMINAL, `parent run ${parent.id} is ${locked.status}`);
    if (locked.status === 'cancelling') throw new DomainError(ErrorCode.CONFLICT, `parent run ${parent.id} is being cancelled`);
  }

  /** Sets `run`'s status by the session's slot and the busy policy. Call with the session queue locked (held to commit). */
  private async takeSlotOrQueue(tx: EntityManager, events: OutboxEvents, scope: CallerScope, run: RunEntity, body: CreateRunBody): Promise<void> {
    const sessionId = run.sessionId as string;
    const active = await this.runs.findActiveInSession(tx, run.tenantId, sessionId);
    if (active === null) return;
    const policy = body.busy_policy ?? 'enqueue';
    switch (policy) {
      case 'reject':
        throw new DomainError(ErrorCode.SESSION_BUSY, `session ${sessionId} has an active run (${active.id})`);
      case 'enqueue':
        run.status = 'queued';
        return;
      case 'interrupt':
        // The slot is not handed to the queue: this run takes it, now or once the worker has stopped.
        await this.lifecycle.cancel(tx, events, active, { principalId: scope.principal_id, reason: `interrupted by run ${run.id}` }, false);
        if (active.status === 'cancelling') {
          run.status = 'queued';
          run.jumpsQueue = true;
        }
        return;
      default: {
        const unknown: never = policy;
        throw new Error(`unknown busy policy ${String(unknown)}`);
      }
    }
  }

  private newRun(scope: CallerScope, body: CreateRunBody, parent: RunEntity | null, session: SessionView | null, idempotency: Idempotency | null): RunEntity {
    const now = new Date();
    const trace = traceContext();
    const { route, routeSource } = resolveRoute(body.route, session?.route_policy ?? null, this.settings.defaultExecutor);
    return {
      id: uuidv7(),
      tenantId: scope.tenant_id,
      // Runs belong to whoever owns their session (or parent), so the owner's streams and lists show them.
      ownerId: session?.owner_id ?? parent?.ownerId ?? scope.principal_id,
      createdBy: scope.principal_id,
      sessionId: session?.id ?? null,
      parentRunId: parent?.id ?? null,
      taskId: body.task_id ?? null,
      jobId: body.job_id ?? null,
      source: body.source ?? 'api',
      status: 'pending',
      jumpsQueue: false,
      idempotencyKey: idempotency?.key ?? null,
      idempotencyFingerprint: idempotency?.fingerprint ?? null,
      // The trace of the request creating it (the gateway's, carried over the bus): the run keeps it,
      // and this service's span of that request (its own, not the sender's) as its execution's parent.
      traceId: trace?.traceId ?? null,
      traceParentSpanId: trace?.spanId ?? null,
      input: body.input ?? null,
      inputItems: body.input_items === undefined ? null : body.input_items.map(toStoredInputItem),
      route,
      routeSource,
      executor: route.executor,
      replyTargets: (session?.reply_targets ?? []).map(toStoredReplyTarget),
      metadata: toPlainJson(body.metadata ?? {}),
      attempt: 0,
      maxAttempts: body.max_attempts ?? RUN_DEFAULT_MAX_ATTEMPTS,
      ttlSeconds: body.ttl_seconds ?? null,
      expiresAt: body.ttl_seconds === undefined ? null : new Date(now.getTime() + body.ttl_seconds * 1000),
      maxDurationSeconds: body.max_duration_seconds ?? null,
      deadlineAt: null,
      workerId: null,
      leaseToken: 0,
      leaseExpiresAt: null,
      output: null,
      failureClass: null,
      failureMessage: null,
      cancelReason: null,
      cancelledBy: null,
      version: 1,
      createdAt: now,
      updatedAt: now,
      startedAt: null,
      finishedAt: null,
    };
  }
}

function toStoredInputItem(item: InputItem): StoredInputItem {
  const stored: StoredInputItem = { type: item.type };
  for (const key of ['text', 'file_id', 'url', 'name', 'mime_type'] as const) {
    if (item[key] !== undefined) stored[key] = item[key];
  }
  return stored;
}

function toStoredReplyTarget(target: ReplyTarget): StoredReplyTarget {
  const stored: StoredReplyTarget = { channel: target.channel, address: target.address };
  if (target.metadata !== undefined) stored.metadata = toPlainJson(target.metadata);
  return stored;
}

/** The key was used with another body, or by a run the caller can no longer see. */
function keyReused(): DomainError {
  return new DomainError(ErrorCode.IDEMPOTENCY_KEY_REUSED, 'This idempotency key was already used for another request');
}
