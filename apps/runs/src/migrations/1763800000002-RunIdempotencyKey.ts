import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The caller's Idempotency-Key on a run, so the runs service itself answers a retried create with
 * the original run (the gateway's own key store forgets in-flight requests after a timeout). The
 * partial unique index makes "one run per key, per principal and tenant" a database guarantee:
 * concurrent duplicates that slip past the service's lookup collide here and read the winner.
 */
export class RunIdempotencyKey1763800000002 implements MigrationInterface {
  name = 'RunIdempotencyKey1763800000002';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE runs ADD COLUMN idempotency_key text NULL
        CONSTRAINT runs_idempotency_key_length CHECK (char_length(idempotency_key) BETWEEN 1 AND 255)`);
    await queryRunner.query(`
      CREATE UNIQUE INDEX runs_idempotency_key_idx ON runs (tenant_id, created_by, idempotency_key)
      WHERE idempotency_key IS NOT NULL`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX runs_idempotency_key_idx`);
    await queryRunner.query(`ALTER TABLE runs DROP COLUMN idempotency_key`);
  }
}
