import { Injectable } from '@nestjs/common';
import { withJsonbColumns } from '@runyard/persistence';
import { DataSource, type EntityManager } from 'typeorm';
import { PlanStepEntity, type StoredEvidence } from './plan-step.entity.js';

export type PlanStepChanges = Partial<Pick<PlanStepEntity, 'title' | 'status' | 'evidence' | 'updatedAt'>>;

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

  countInRun(tx: EntityManager, tenantId: string, runId: string): Promise<number> {
    return tx.createQueryBuilder(PlanStepEntity, 's').where('s.tenant_id = :tenantId AND s.run_id = :runId', { tenantId, runId }).getCount();
  }

  /**
   * The size of all the run's evidence if the step with `key` held `evidence` (the others as they
   * are): each step's evidence as the database prints it (`jsonb::text`, which is never shorter than
   * the same JSON without spaces), the candidate printed the same way, so both sides compare alike.
   */
  async evidenceBytesWith(tx: EntityManager, tenantId: string, runId: string, key: string, evidence: StoredEvidence[]): Promise<number> {
    const rows = await tx.query<{ bytes: string | number }[]>(
      `SELECT coalesce(sum(octet_length(evidence::text)) FILTER (WHERE key <> $3), 0) + octet_length($4::jsonb::text) AS bytes
       FROM plan_steps WHERE tenant_id = $1 AND run_id = $2`,
      [tenantId, runId, key, JSON.stringify(evidence)],
    );
    return Number(rows[0]?.bytes ?? 0);
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
