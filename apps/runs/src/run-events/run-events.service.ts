import { Injectable } from '@nestjs/common';
import { DomainError, ErrorCode, ownerFilter, type CallerScope, type EventEnvelope, type Page, type PageQuery } from '@runyard/contracts';
import { decodeCursor, encodeCursor, rowsToFetch, toPage } from '@runyard/persistence';
import { runNotFound } from '../runs/run-errors.js';
import { RunsRepository } from '../runs/runs.repository.js';
import { RunEventsRepository } from './run-events.repository.js';

/** Outbox positions are int8: digits only, up to 18 of them (always within range). */
const POSITION = /^[0-9]{1,18}$/;

/** The history of everything a run's events said, oldest first, for principals who can see the run (reads only). */
@Injectable()
export class RunEventsService {
  constructor(
    private readonly runs: RunsRepository,
    private readonly history: RunEventsRepository,
  ) {}

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
