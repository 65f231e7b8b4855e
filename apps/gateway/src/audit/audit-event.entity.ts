import { Column, Entity, PrimaryColumn } from 'typeorm';

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

export type AuditOutcome = 'success' | 'failure';
/** `principal`: a tenant API key; `system`: the system key or the gateway itself; `anonymous`: no valid key. */
export type AuditActorKind = 'principal' | 'system' | 'anonymous';

@Entity({ name: 'audit_events' })
export class AuditEventEntity {
  @PrimaryColumn({ type: 'uuid' })
  id!: string;

  /** null for system-level events (tenant management, failed authentication of an unknown key). */
  @Column({ name: 'tenant_id', type: 'uuid', nullable: true })
  tenantId!: string | null;

  @Column({ name: 'actor_id', type: 'uuid', nullable: true })
  actorId!: string | null;

  @Column({ name: 'actor_kind', type: 'text' })
  actorKind!: AuditActorKind;

  @Column({ type: 'text' })
  action!: string;

  @Column({ name: 'target_type', type: 'text', nullable: true })
  targetType!: string | null;

  /** text, not uuid: a refused request may name a malformed id, and that is worth keeping. */
  @Column({ name: 'target_id', type: 'text', nullable: true })
  targetId!: string | null;

  @Column({ type: 'text' })
  outcome!: AuditOutcome;

  @Column({ name: 'status_code', type: 'integer', nullable: true })
  statusCode!: number | null;

  @Column({ type: 'text', nullable: true })
  reason!: string | null;

  @Column({ name: 'request_id', type: 'text', nullable: true })
  requestId!: string | null;

  @Column({ type: 'jsonb', nullable: true })
  metadata!: JsonObject | null;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
