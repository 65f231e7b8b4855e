import type { RunView } from '@runyard/contracts';
import type { EventRefs } from '@runyard/messaging';
import type { RunEntity } from './run.entity.js';

function iso(date: Date | null): string | null {
  return date === null ? null : date.toISOString();
}

/** Entity → wire view: snake_case, RFC 3339 UTC timestamps; lease internals stay inside (only worker_id shows). */
export function toRunView(run: RunEntity, queuePosition: number | null = null): RunView {
  return {
    id: run.id,
    tenant_id: run.tenantId,
    owner_id: run.ownerId,
    created_by: run.createdBy,
    session_id: run.sessionId,
    parent_run_id: run.parentRunId,
    task_id: run.taskId,
    job_id: run.jobId,
    source: run.source,
    status: run.status,
    queue_position: run.status === 'queued' ? queuePosition : null,
    input: run.input,
    input_items: run.inputItems,
    route: run.route,
    route_source: run.routeSource,
    reply_targets: run.replyTargets,
    metadata: run.metadata,
    attempt: run.attempt,
    max_attempts: run.maxAttempts,
    ttl_seconds: run.ttlSeconds,
    max_duration_seconds: run.maxDurationSeconds,
    worker_id: run.workerId,
    trace_id: run.traceId,
    trace_parent_span_id: run.traceParentSpanId,
    output: run.output,
    failure_class: run.failureClass,
    failure_message: run.failureMessage,
    cancel_reason: run.cancelReason,
    cancelled_by: run.cancelledBy,
    created_at: run.createdAt.toISOString(),
    updated_at: run.updatedAt.toISOString(),
    started_at: iso(run.startedAt),
    finished_at: iso(run.finishedAt),
    expires_at: iso(run.expiresAt),
  };
}

/** The envelope fields of every event about a run: members' streams filter on owner_id. */
export function runEventScope(run: Pick<RunEntity, 'tenantId' | 'ownerId' | 'sessionId' | 'id' | 'traceId'>): EventRefs {
  const refs: EventRefs = { tenant_id: run.tenantId, owner_id: run.ownerId, run_id: run.id };
  if (run.sessionId !== null) refs.session_id = run.sessionId;
  // The run's trace marks events written outside any trace (a claim, a sweep); within one, that one wins.
  if (run.traceId !== null) refs.trace_id = run.traceId;
  return refs;
}
