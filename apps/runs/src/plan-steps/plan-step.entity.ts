import type { Evidence, PlanStepStatus } from '@runyard/contracts';
import { Column, Entity, PrimaryColumn } from 'typeorm';

/** Evidence as stored: plain JSON. */
export type StoredEvidence = Pick<Evidence, 'kind' | 'text' | 'url' | 'data'>;

/** A visible step inside a run. Mirrors migrations 1763700000001 and 1763800000001. */
@Entity({ name: 'plan_steps' })
export class PlanStepEntity {
  @PrimaryColumn('uuid')
  id!: string;

  @Column('uuid', { name: 'run_id' })
  runId!: string;

  @Column('uuid', { name: 'tenant_id' })
  tenantId!: string;

  /** The executor's name for the step, unique within the run. */
  @Column('text')
  key!: string;

  /** Order of first appearance within the run, from 1. */
  @Column('integer')
  position!: number;

  @Column('text')
  title!: string;

  @Column('text')
  status!: PlanStepStatus;

  /** Appended to, never replaced. */
  @Column('jsonb')
  evidence!: StoredEvidence[];

  @Column('timestamptz', { name: 'created_at' })
  createdAt!: Date;

  @Column('timestamptz', { name: 'updated_at' })
  updatedAt!: Date;
}
