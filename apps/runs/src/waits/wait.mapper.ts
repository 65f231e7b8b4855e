import type { WaitView } from '@runyard/contracts';
import type { WaitEntity } from './wait.entity.js';

function iso(date: Date | null): string | null {
  return date === null ? null : date.toISOString();
}

export function toWaitView(wait: WaitEntity): WaitView {
  return {
    id: wait.id,
    run_id: wait.runId,
    tenant_id: wait.tenantId,
    key: wait.key,
    kind: wait.kind,
    status: wait.status,
    prompt: wait.prompt,
    details: wait.details,
    schema: wait.schema,
    answer: wait.decision === null || wait.answer === null ? null : { decision: wait.decision, reason: wait.answer.reason, input: wait.answer.input },
    answered_by: wait.answeredBy,
    answered_at: iso(wait.answeredAt),
    timeout_at: iso(wait.timeoutAt),
    created_at: wait.createdAt.toISOString(),
    updated_at: wait.updatedAt.toISOString(),
  };
}
