import { Injectable } from '@nestjs/common';
import { DomainError, ErrorCode, RunMessagePosted, RunProgressed, type PostRunMessagePayload, type ReportProgressPayload } from '@runyard/contracts';
import { newEvent } from '@runyard/messaging';
import { toPlainJson } from '@runyard/persistence';
import { LeaseGuard, type HeldLease } from '../runs/lease-guard.js';
import { runEventScope } from '../runs/run.mapper.js';

export type Progress = Pick<ReportProgressPayload, 'message' | 'data'>;
export type RunMessage = Pick<PostRunMessagePayload, 'key' | 'content' | 'metadata'>;

/**
 * What a run tells its watchers without changing its state: progress, and assistant messages for its
 * session's chat (the sessions service appends them). Each is an event only, written under the lease
 * like every executor write, so it lands in the run's event history (RunEventsService) too.
 */
@Injectable()
export class RunReportsService {
  constructor(private readonly guard: LeaseGuard) {}

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
}
