import { Injectable } from '@nestjs/common';
import { withJsonbColumns } from '@runyard/persistence';
import { DataSource, type EntityManager } from 'typeorm';
import { PlanStepEntity } from './plan-step.entity.js';

export type PlanStepChanges = Partial<Pick<PlanStepEntity, 'title' | 'status' | 'evidence' | 'updatedAt'>>;

/** How much a run's steps already hold, for the per-run limits. */
export interface PlanStepTotals {
  steps: number;
  /** Serialised size of all their evidence. */
  evidenceBytes: number;
}

/** Plan steps, always within a tenant and a run. Writers hold their run's row lock, which serialises a run's steps. */
@Injectable()
export class PlanStepsRepository {
  constructor(private readonly dataSource: DataSource) {}

  findByKey(tx: EntityManager, tenantId: string, runId: string, key: string): Promise<PlanStepEntity | null> {
    return tx
      .createQueryBuilder(PlanStepEntity, 's')
      .where('s.tenant_id = :tenantId AND s.run_id = :runId AND s.key = :key', { tenantId, runId, key })
      .getOne();
  }

  async totalsInRun(tx: EntityManager, tenantId: string, runId: string): Promise<PlanStepTotals> {
    const rows = await tx.query<{ steps: string | number; evidence_bytes: string | number }[]>(
      `SELECT count(*) AS steps, coalesce(sum(octet_length(evidence::text)), 0) AS evidence_bytes
       FROM plan_steps WHERE tenant_id = $1 AND run_id = $2`,
      [tenantId, runId],
    );
    return { steps: Number(rows[0]?.steps ?? 0), evidenceBytes: Number(rows[0]?.evidence_bytes ?? 0) };
  }

  async insertStep(tx: EntityManager, step: PlanStepEntity): Promise<void> {
    await tx.insert(PlanStepEntity, withJsonbColumns(step));
  }

  async applyChange(tx: EntityManager, tenantId: string, stepId: string, changes: PlanStepChanges): Promise<void> {
    await tx
      .createQueryBuilder()
      .update(PlanStepEntity)
      .set(withJsonbColumns<PlanStepEntity>(changes))
      .where('id = :stepId AND tenant_id = :tenantId', { stepId, tenantId })
      .execute();
  }

  /** In position order; `afterPosition` continues after the last step of the previous page. */
  listInRun(tenantId: string, runId: string, page: { afterPosition?: number; take?: number }, manager: EntityManager = this.dataSource.manager): Promise<PlanStepEntity[]> {
    const query = manager.createQueryBuilder(PlanStepEntity, 's').where('s.tenant_id = :tenantId AND s.run_id = :runId', { tenantId, runId });
    if (page.afterPosition !== undefined) query.andWhere('s.position > :afterPosition', { afterPosition: page.afterPosition });
    query.orderBy('s.position', 'ASC');
    if (page.take !== undefined) query.limit(page.take);
    return query.getMany();
  }
}
