import { Injectable } from '@nestjs/common';
import {
  DomainError,
  ErrorCode,
  ownerFilter,
  RunMessagePosted,
  RunProgressed,
  type CallerScope,
  type EventEnvelope,
  type Page,
  type PageQuery,
  type PostRunMessagePayload,
  type ReportProgressPayload,
} from '@runyard/contracts';
import { newEvent } from '@runyard/messaging';
import { decodeCursor, encodeCursor, rowsToFetch, toPage, toPlainJson } from '@runyard/persistence';
import { LeaseGuard, type HeldLease } from '../runs/lease-guard.js';
import { runNotFound } from '../runs/run-errors.js';
import { runEventScope } from '../runs/run.mapper.js';
import { RunsRepository } from '../runs/runs.repository.js';
import { RunEventsRepository } from './run-events.repository.js';

export type Progress = Pick<ReportProgressPayload, 'message' | 'data'>;
export type RunMessage = Pick<PostRunMessagePayload, 'key' | 'content' | 'metadata'>;

/** Outbox positions are int8: digits only, up to 18 of them (always within range). */
const POSITION = /^[0-9]{1,18}$/;

/**
 * What a run tells its watchers without changing its state — progress, and assistant messages for
 * its session's chat (the sessions service appends them) — and the history of everything a run's
 * events said, oldest first.
 */
@Injectable()
export class RunEventsService {
  constructor(
    private readonly runs: RunsRepository,
    private readonly history: RunEventsRepository,
    private readonly guard: LeaseGuard,
  ) {}

  reportProgress(lease: HeldLease, progress: Progress): Promise<null> {
    return this.guard.withLease(lease, { executorWork: true }, (_tx, events, run) => {
      const data = progress.data === undefined ? null : toPlainJson(progress.data);
      events.add(newEvent(RunProgressed, runEventScope(run), { run_id: run.id, message: progress.message ?? null, data }));
      return Promise.resolve(null);
    });
  }

  /** VALIDATION_FAILED for a run outside a session: there is no chat to post to. */
  postMessage(lease: HeldLease, message: RunMessage): Promise<null> {
    return this.guard.withLease(lease, { executorWork: true }, (_tx, events, run) => {
      if (run.sessionId === null) {
        const text = `run ${run.id} is not in a session: it has no chat to post to`;
        throw new DomainError(ErrorCode.VALIDATION_FAILED, text, { errors: [{ field: 'run_id', message: text }] });
      }
      const data = { run_id: run.id, session_id: run.sessionId, key: message.key, content: message.content, metadata: toPlainJson(message.metadata ?? {}) };
      events.add(newEvent(RunMessagePosted, runEventScope(run), data));
      return Promise.resolve(null);
    });
  }

  /** The events of a run the caller can see, in the order they were committed. */
  async list(scope: CallerScope, runId: string, query: PageQuery): Promise<Page<EventEnvelope>> {
    const run = await this.runs.findVisible(scope.tenant_id, ownerFilter(scope), runId);
    if (run === null) throw runNotFound(runId);
    const afterPosition = query.cursor === undefined ? undefined : decodePositionCursor(query.cursor);
    const rows = await this.history.listForRun(run.tenantId, run.id, { afterPosition, take: rowsToFetch(query.limit) });
    return toPage(
      rows,
      query.limit,
      (row) => row.envelope,
      (row) => encodeCursor({ position: row.position }),
    );
  }
}

function decodePositionCursor(cursor: string): string {
  const { position } = decodeCursor<{ position: string }>(cursor, { position: 'string' });
  if (!POSITION.test(position)) throw new DomainError(ErrorCode.INVALID_CURSOR, 'cursor is not one this API returned');
  return position;
}
