import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Audit events. No foreign keys: the audit trail must outlive what it talks about (and accept
 * targets that never existed, such as the id of a refused request).
 */
export class CreateAuditEvents1763600000101 implements MigrationInterface {
  name = 'CreateAuditEvents1763600000101';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE audit_events (
        id uuid PRIMARY KEY,
        tenant_id uuid,
        actor_id uuid,
        actor_kind text NOT NULL,
        action text NOT NULL,
        target_type text,
        target_id text,
        outcome text NOT NULL CHECK (outcome IN ('success', 'failure')),
        status_code integer,
        reason text,
        request_id text,
        metadata jsonb,
        created_at timestamptz NOT NULL
      )`);
    // Every listing is one tenant's events newest first, optionally narrowed by one filter.
    await queryRunner.query(`CREATE INDEX audit_events_tenant_created ON audit_events (tenant_id, created_at DESC, id DESC)`);
    await queryRunner.query(`CREATE INDEX audit_events_tenant_action ON audit_events (tenant_id, action, created_at DESC, id DESC)`);
    await queryRunner.query(`CREATE INDEX audit_events_tenant_actor ON audit_events (tenant_id, actor_id, created_at DESC, id DESC)`);
    await queryRunner.query(`CREATE INDEX audit_events_tenant_target ON audit_events (tenant_id, target_type, target_id, created_at DESC, id DESC)`);
    await queryRunner.query(`CREATE INDEX audit_events_tenant_outcome ON audit_events (tenant_id, outcome, created_at DESC, id DESC)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE audit_events`);
  }
}
