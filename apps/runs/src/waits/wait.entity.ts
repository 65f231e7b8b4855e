import type { WaitDecision, WaitKind, WaitStatus } from '@runyard/contracts';
import { Column, Entity, PrimaryColumn } from 'typeorm';

/** The answer as stored next to its `decision` column: plain JSON. */
export interface StoredWaitAnswer {
  reason: string | null;
  input: Record<string, unknown> | null;
}

/** An approval or input request of a run. Mirrors migrations 1763700000001 and 1763800000001. */
@Entity({ name: 'waits' })
export class WaitEntity {
  @PrimaryColumn('uuid')
  id!: string;

  @Column('uuid', { name: 'run_id' })
  runId!: string;

  @Column('uuid', { name: 'tenant_id' })
  tenantId!: string;

  /** The executor's name for the wait, unique within the run. */
  @Column('text')
  key!: string;

  @Column('text')
  kind!: WaitKind;

  @Column('text')
  prompt!: string;

  @Column('jsonb', { nullable: true })
  details!: Record<string, unknown> | null;

  /** JSON Schema an input request's answer must satisfy. */
  @Column('jsonb', { nullable: true })
  schema!: Record<string, unknown> | null;

  @Column('text')
  status!: WaitStatus;

  /** Set exactly when answered. */
  @Column('text', { nullable: true })
  decision!: WaitDecision | null;

  @Column('jsonb', { nullable: true })
  answer!: StoredWaitAnswer | null;

  @Column('uuid', { name: 'answered_by', nullable: true })
  answeredBy!: string | null;

  @Column('timestamptz', { name: 'answered_at', nullable: true })
  answeredAt!: Date | null;

  /** Still open then, the wait and its run expire. */
  @Column('timestamptz', { name: 'timeout_at', nullable: true })
  timeoutAt!: Date | null;

  @Column('timestamptz', { name: 'created_at' })
  createdAt!: Date;

  @Column('timestamptz', { name: 'updated_at' })
  updatedAt!: Date;
}
