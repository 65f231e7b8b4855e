import { Injectable } from '@nestjs/common';
import {
  DomainError,
  ErrorCode,
  ownerFilter,
  TERMINAL_RUN_STATUSES,
  WAITS_PER_RUN_MAX,
  WaitClosed,
  WaitOpened,
  type AnsweredWait,
  type AnswerWaitPayload,
  type CallerScope,
  type Page,
  type PageQuery,
  type RequestedWait,
  type RequestWaitPayload,
  type WaitDecision,
  type WaitKind,
  type WaitView,
} from '@runyard/contracts';
import { newEvent, TransactionalOutbox } from '@runyard/messaging';
import { decodeIdCursor, encodeIdCursor, rowsToFetch, toPage, toPlainJson } from '@runyard/persistence';
import { v7 as uuidv7 } from 'uuid';
import { LeaseGuard, type HeldLease } from '../runs/lease-guard.js';
import { runNotFound, runTerminal } from '../runs/run-errors.js';
import type { RunEntity } from '../runs/run.entity.js';
import { runEventScope, toRunView } from '../runs/run.mapper.js';
import { RunLifecycle } from '../runs/run-lifecycle.js';
import { RunsRepository } from '../runs/runs.repository.js';
import { assertSatisfies, assertUsableSchema } from './answer-schema.js';
import type { WaitEntity } from './wait.entity.js';
import { toWaitView } from './wait.mapper.js';
import { WaitsRepository } from './waits.repository.js';

/** What the executor asks for, besides the lease. */
export type WaitRequest = Pick<RequestWaitPayload, 'key' | 'kind' | 'prompt' | 'details' | 'schema' | 'timeout_seconds'>;
/** A principal's answer. */
export type WaitAnswerInput = Pick<AnswerWaitPayload, 'decision' | 'reason' | 'input'>;

const DECISIONS_BY_KIND: { readonly [K in WaitKind]: readonly WaitDecision[] } = {
  approval: ['approved', 'denied'],
  input: ['responded'],
};

/**
 * Approvals and input requests. The executor opens one and its run suspends (the lease ends); a
 * principal answers it and the same run resumes (pending, claimed again, the answer in its claim).
 * A wait that times out expires with its run; a cancelled run cancels its open waits (RunLifecycle).
 */
@Injectable()
export class WaitsService {
  constructor(
    private readonly runs: RunsRepository,
    private readonly waits: WaitsRepository,
    private readonly lifecycle: RunLifecycle,
    private readonly guard: LeaseGuard,
    private readonly outbox: TransactionalOutbox,
  ) {}

  /**
   * A new key opens the wait and suspends the run (waiting_for_approval / waiting_for_input); a key
   * the run already has returns that wait unchanged and suspends nothing — CONFLICT when it is of the
   * other kind. Only an input request may carry a schema, and it must be one Ajv can use (compiled
   * before the transaction opens: nothing is locked meanwhile). A run opens at most WAITS_PER_RUN_MAX
   * waits (every claim carries them all).
   */
  request(lease: HeldLease, request: WaitRequest): Promise<RequestedWait> {
    if (request.schema !== undefined) {
      if (request.kind !== 'input') throw invalid('schema', 'only an input request has a schema');
      assertUsableSchema(request.schema, 'schema');
    }
    return this.guard.withLease(lease, { executorWork: true }, async (tx, events, run) => {
      const existing = await this.waits.findByKey(tx, run.tenantId, run.id, request.key);
      if (existing !== null) {
        if (existing.kind !== request.kind) {
          throw new DomainError(ErrorCode.CONFLICT, `wait ${request.key} of run ${run.id} is an ${describeKind(existing.kind)}, not an ${describeKind(request.kind)}`);
        }
        return { wait: toWaitView(existing), suspended: false };
      }
      if ((await this.waits.countInRun(tx, run.tenantId, run.id)) >= WAITS_PER_RUN_MAX) throw invalid('key', `a run opens at most ${WAITS_PER_RUN_MAX} waits`);
      const now = new Date();
      const wait: WaitEntity = {
        id: uuidv7(),
        runId: run.id,
        tenantId: run.tenantId,
        key: request.key,
        kind: request.kind,
        prompt: request.prompt,
        details: request.details === undefined ? null : toPlainJson(request.details),
        schema: request.schema === undefined ? null : toPlainJson(request.schema),
        status: 'open',
        decision: null,
        answer: null,
        answeredBy: null,
        answeredAt: null,
        timeoutAt: request.timeout_seconds === undefined ? null : new Date(now.getTime() + request.timeout_seconds * 1000),
        createdAt: now,
        updatedAt: now,
      };
      await this.waits.insertWait(tx, wait);
      const view = toWaitView(wait);
      events.add(newEvent(WaitOpened, runEventScope(run), view));
      await this.lifecycle.move(tx, events, run, wait.kind === 'approval' ? 'waiting_for_approval' : 'waiting_for_input');
      return { wait: view, suspended: true };
    });
  }

  /**
   * Answers an open wait of a run the caller can see, and the run resumes (pending; it keeps its
   * session slot, so no promotion is involved). RUN_TERMINAL on an ended run, CONFLICT on a wait that
   * is not open or a decision of the wrong kind (approve/deny an input request, respond to an
   * approval), VALIDATION_FAILED when `input` is missing for respond, given otherwise, or does not
   * satisfy the wait's schema. Nothing changes on any error.
   *
   * The answer is checked against the wait as read without locks first — the schema (executor
   * supplied, so of unknown cost) is never run while the session queue, run and wait are locked (in
   * standalone mode: while the one database connection is taken); a wait's kind and schema never
   * change. Then everything is locked and the statuses are checked again.
   *
   * The resumed run's claim does not count as an attempt (the one that ended in this wait is given
   * back, as a release's is), and its deadline moves on by the time it was suspended: max duration
   * is running time.
   */
  async answer(scope: CallerScope, runId: string, waitId: string, answer: WaitAnswerInput): Promise<AnsweredWait> {
    const input = answer.input ?? undefined;
    if (answer.decision === 'responded' && input === undefined) throw invalid('input', 'a response needs an input');
    if (answer.decision !== 'responded' && input !== undefined) throw invalid('input', 'only a response carries an input');
    const seen = await this.runs.findVisible(scope.tenant_id, ownerFilter(scope), runId);
    if (seen === null) throw runNotFound(runId);
    const seenWait = await this.waits.findInRun(seen.tenantId, seen.id, waitId);
    if (seenWait === null) throw waitNotFound(waitId);
    assertAnswerable(seen, seenWait, answer);
    if (input !== undefined && seenWait.schema !== null) assertSatisfies(seenWait.schema, input, 'input');

    return this.outbox.run(async (tx, events) => {
      const run = await this.runs.lockForChange(tx, scope.tenant_id, runId, ownerFilter(scope));
      if (run === null) throw runNotFound(runId);
      const wait = await this.waits.lockInRun(tx, run.tenantId, run.id, waitId);
      if (wait === null) throw waitNotFound(waitId);
      // Answered, expired or cancelled meanwhile: checked again now that nothing can change.
      assertAnswerable(run, wait, answer);

      const now = new Date();
      const changes = {
        status: 'answered' as const,
        decision: answer.decision,
        answer: { reason: answer.reason ?? null, input: input === undefined ? null : toPlainJson(input) },
        answeredBy: scope.principal_id,
        answeredAt: now,
        updatedAt: now,
      };
      await this.waits.applyChange(tx, run.tenantId, [wait.id], changes);
      Object.assign(wait, changes);
      const view = toWaitView(wait);
      events.add(newEvent(WaitClosed, runEventScope(run), view));
      const suspendedMs = now.getTime() - wait.createdAt.getTime();
      await this.lifecycle.move(tx, events, run, 'pending', {
        attempt: Math.max(0, run.attempt - 1),
        deadlineAt: run.deadlineAt === null ? null : new Date(run.deadlineAt.getTime() + suspendedMs),
      });
      return { wait: view, run: toRunView(run) };
    });
  }

  /** The waits of a run the caller can see, oldest first. */
  async list(scope: CallerScope, runId: string, query: PageQuery): Promise<Page<WaitView>> {
    const run = await this.runs.findVisible(scope.tenant_id, ownerFilter(scope), runId);
    if (run === null) throw runNotFound(runId);
    const afterId = query.cursor === undefined ? undefined : decodeIdCursor(query.cursor);
    const rows = await this.waits.listInRun(run.tenantId, run.id, { afterId, take: rowsToFetch(query.limit) });
    return toPage(rows, query.limit, toWaitView, (wait) => encodeIdCursor(wait.id));
  }
}

/** Absent or of another run: the caller cannot tell these apart. */
function waitNotFound(waitId: string): DomainError {
  return new DomainError(ErrorCode.NOT_FOUND, `wait ${waitId} not found`);
}

/** RUN_TERMINAL for an ended run; CONFLICT for a wait no longer open or a decision of the other kind of wait. */
function assertAnswerable(run: RunEntity, wait: WaitEntity, answer: WaitAnswerInput): void {
  if (TERMINAL_RUN_STATUSES.has(run.status)) throw runTerminal(run.id, run.status);
  if (wait.status !== 'open') throw new DomainError(ErrorCode.CONFLICT, `wait ${wait.id} is ${wait.status}: it can no longer be answered`);
  if (!DECISIONS_BY_KIND[wait.kind].includes(answer.decision)) {
    const allowed = DECISIONS_BY_KIND[wait.kind].join(' or ');
    throw new DomainError(ErrorCode.CONFLICT, `wait ${wait.id} is an ${describeKind(wait.kind)}: it can only be ${allowed}`);
  }
}

function describeKind(kind: WaitKind): string {
  return kind === 'approval' ? 'approval' : 'input request';
}

function invalid(field: string, message: string): DomainError {
  return new DomainError(ErrorCode.VALIDATION_FAILED, message, { errors: [{ field, message }] });
}
