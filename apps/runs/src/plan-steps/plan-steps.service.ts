import { Injectable } from '@nestjs/common';
import {
  DomainError,
  ErrorCode,
  ownerFilter,
  PLAN_STEP_EVIDENCE_MAX,
  PLAN_STEPS_PER_RUN_MAX,
  PlanStepAdded,
  PlanStepUpdated,
  type CallerScope,
  type Page,
  type PageQuery,
  type PlanStepFields,
  type PlanStepView,
} from '@runyard/contracts';
import { newEvent } from '@runyard/messaging';
import { decodeCursor, encodeCursor, rowsToFetch, toPage, toPlainJson } from '@runyard/persistence';
import type { EntityManager } from 'typeorm';
import { v7 as uuidv7 } from 'uuid';
import { LeaseGuard, type HeldLease } from '../runs/lease-guard.js';
import { runNotFound } from '../runs/run-errors.js';
import type { RunEntity } from '../runs/run.entity.js';
import { runEventScope } from '../runs/run.mapper.js';
import { RunsRepository } from '../runs/runs.repository.js';
import type { PlanStepEntity, StoredEvidence } from './plan-step.entity.js';
import { toPlanStepView } from './plan-step.mapper.js';
import { PlanStepsRepository, type PlanStepChanges } from './plan-steps.repository.js';

/**
 * Most evidence one run's steps may hold in total, serialised as stored (see
 * PlanStepsRepository.evidenceBytesWith). Every claim hands the run's steps to the worker in one
 * reply, which must stay below the bus's message limit (CLAIMED_RUN_MAX_BYTES).
 */
export const PLAN_STEP_EVIDENCE_BYTES_PER_RUN_MAX = 512 * 1024;

/** Plan steps: the executor adds and updates them under its lease; principals read them. */
@Injectable()
export class PlanStepsService {
  constructor(
    private readonly runs: RunsRepository,
    private readonly steps: PlanStepsRepository,
    private readonly guard: LeaseGuard,
  ) {}

  /**
   * Adds the step with `fields.key` (a title is required then; status defaults to pending; it takes
   * the next position) or updates it: title and status replace, evidence is appended. An update that
   * changes nothing writes nothing and publishes nothing. PAYLOAD_TOO_LARGE when added evidence would
   * take the run past its evidence budget; an update that adds none is never refused for size.
   */
  upsert(lease: HeldLease, fields: PlanStepFields): Promise<PlanStepView> {
    return this.guard.withLease(lease, { executorWork: true }, async (tx, events, run) => {
      const existing = await this.steps.findByKey(tx, run.tenantId, run.id, fields.key);
      const added: StoredEvidence[] = toPlainJson(fields.evidence ?? []);
      const now = new Date();
      if (existing === null) {
        if (fields.title === undefined) throw invalid('title', 'a new plan step needs a title');
        const count = await this.steps.countInRun(tx, run.tenantId, run.id);
        if (count >= PLAN_STEPS_PER_RUN_MAX) throw invalid('key', `a run has at most ${PLAN_STEPS_PER_RUN_MAX} plan steps`);
        if (added.length > PLAN_STEP_EVIDENCE_MAX) throw invalid('evidence', `a plan step has at most ${PLAN_STEP_EVIDENCE_MAX} evidence items`);
        await this.assertEvidenceFits(tx, run, fields.key, added);
        const step: PlanStepEntity = {
          id: uuidv7(),
          runId: run.id,
          tenantId: run.tenantId,
          key: fields.key,
          position: count + 1,
          title: fields.title,
          status: fields.status ?? 'pending',
          evidence: added,
          createdAt: now,
          updatedAt: now,
        };
        await this.steps.insertStep(tx, step);
        const view = toPlanStepView(step);
        events.add(newEvent(PlanStepAdded, runEventScope(run), view));
        return view;
      }
      if (existing.evidence.length + added.length > PLAN_STEP_EVIDENCE_MAX) {
        throw invalid('evidence', `a plan step has at most ${PLAN_STEP_EVIDENCE_MAX} evidence items`);
      }
      const changes: PlanStepChanges = {};
      if (fields.title !== undefined && fields.title !== existing.title) changes.title = fields.title;
      if (fields.status !== undefined && fields.status !== existing.status) changes.status = fields.status;
      if (added.length > 0) {
        changes.evidence = [...existing.evidence, ...added];
        await this.assertEvidenceFits(tx, run, existing.key, changes.evidence);
      }
      if (Object.keys(changes).length === 0) return toPlanStepView(existing);
      changes.updatedAt = now;
      await this.steps.applyChange(tx, run.tenantId, existing.id, changes);
      Object.assign(existing, changes);
      const view = toPlanStepView(existing);
      events.add(newEvent(PlanStepUpdated, runEventScope(run), view));
      return view;
    });
  }

  /** PAYLOAD_TOO_LARGE unless the run's evidence stays within its budget with step `key` holding `evidence`. */
  private async assertEvidenceFits(tx: EntityManager, run: RunEntity, key: string, evidence: StoredEvidence[]): Promise<void> {
    if (evidence.length === 0) return;
    const bytes = await this.steps.evidenceBytesWith(tx, run.tenantId, run.id, key, evidence);
    if (bytes > PLAN_STEP_EVIDENCE_BYTES_PER_RUN_MAX) {
      throw new DomainError(ErrorCode.PAYLOAD_TOO_LARGE, `run ${run.id} would exceed ${PLAN_STEP_EVIDENCE_BYTES_PER_RUN_MAX} bytes of plan step evidence`);
    }
  }

  /** The steps of a run the caller can see, in position order. */
  async list(scope: CallerScope, runId: string, query: PageQuery): Promise<Page<PlanStepView>> {
    const run = await this.runs.findVisible(scope.tenant_id, ownerFilter(scope), runId);
    if (run === null) throw runNotFound(runId);
    const afterPosition = query.cursor === undefined ? undefined : decodePositionCursor(query.cursor);
    const rows = await this.steps.listInRun(run.tenantId, run.id, { afterPosition, take: rowsToFetch(query.limit) });
    return toPage(rows, query.limit, toPlanStepView, (step) => encodeCursor({ position: step.position }));
  }
}

function decodePositionCursor(cursor: string): number {
  const { position } = decodeCursor<{ position: number }>(cursor, { position: 'number' });
  if (!Number.isSafeInteger(position) || position < 0) throw new DomainError(ErrorCode.INVALID_CURSOR, 'cursor is not one this API returned');
  return position;
}

function invalid(field: string, message: string): DomainError {
  return new DomainError(ErrorCode.VALIDATION_FAILED, message, { errors: [{ field, message }] });
}
