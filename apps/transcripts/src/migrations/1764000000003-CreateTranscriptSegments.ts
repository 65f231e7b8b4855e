import type { MigrationInterface, QueryRunner } from 'typeorm';

const KINDS = `'conversation', 'execution', 'summary'`;

/**
 * Transcript segments: derived summaries for a session or a run. Each row carries who may read it
 * (`owner_id`, the session's or run's owner, and `session_id`/`run_id`, copied from their services at
 * creation), so reads are scoped without asking them again; and its retention metadata.
 *
 * Idempotency keys are unique per creator: the principal for API creates (`api:` keys), the run for
 * a worker's keyed writes (`created_by` null, `worker:` keys) — hence the expression index.
 */
export class CreateTranscriptSegments1764000000003 implements MigrationInterface {
  name = 'CreateTranscriptSegments1764000000003';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE transcript_segments (
        id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL,
        owner_id uuid NOT NULL,
        session_id uuid NULL,
        run_id uuid NULL,
        kind text NOT NULL CHECK (kind IN (${KINDS})),
        content text NOT NULL,
        content_bytes integer NOT NULL CHECK (content_bytes >= 0),
        metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
        retention_class text NOT NULL,
        expires_at timestamptz NULL,
        created_by uuid NULL,
        idempotency_key text NULL,
        idempotency_fingerprint text NULL,
        created_at timestamptz NOT NULL,
        CHECK (session_id IS NOT NULL OR run_id IS NOT NULL),
        CHECK (created_by IS NOT NULL OR run_id IS NOT NULL)
      )`);
    await queryRunner.query(`CREATE INDEX transcript_segments_session_idx ON transcript_segments (tenant_id, session_id, id) WHERE session_id IS NOT NULL`);
    await queryRunner.query(`CREATE INDEX transcript_segments_run_idx ON transcript_segments (tenant_id, run_id, id) WHERE run_id IS NOT NULL`);
    await queryRunner.query(`CREATE INDEX transcript_segments_expiry_idx ON transcript_segments (expires_at) WHERE expires_at IS NOT NULL`);
    await queryRunner.query(
      `CREATE UNIQUE INDEX transcript_segments_idempotency_key_idx ON transcript_segments (tenant_id, (COALESCE(created_by, run_id)), idempotency_key) WHERE idempotency_key IS NOT NULL`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE transcript_segments`);
  }
}
