import type { PlanStepView } from '@runyard/contracts';
import type { PlanStepEntity } from './plan-step.entity.js';

export function toPlanStepView(step: PlanStepEntity): PlanStepView {
  return {
    id: step.id,
    run_id: step.runId,
    tenant_id: step.tenantId,
    key: step.key,
    position: step.position,
    title: step.title,
    status: step.status,
    evidence: step.evidence,
    created_at: step.createdAt.toISOString(),
    updated_at: step.updatedAt.toISOString(),
  };
}
