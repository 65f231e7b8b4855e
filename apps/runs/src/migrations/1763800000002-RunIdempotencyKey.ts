import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The caller's idempotency key on a run, so the runs service itself answers a retried create with
 * the original run (the gateway's own key store forgets in-flight requests after a timeout). The
 * partial unique index makes "one run per key, per principal and tenant" a database guarantee:
 * concurrent duplicates that slip past the service's lookup collide here and read the winner.
 *
 * Keys are namespaced by their sender (`api:` + a client's Idempotency-Key, `turn:` + a message id),
 * hence up to 260 characters. The fingerprint (sha256, hex, of the create body as canonical JSON) tells
 * a retry (same body: the original run) from a reuse of the key for another request (refused).
 */
export class RunIdempotencyKey1763800000002 implements MigrationInterface {
  name = 'RunIdempotencyKey1763800000002';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE runs
        ADD COLUMN idempotency_key text NULL
          CONSTRAINT runs_idempotency_key_length CHECK (char_length(idempotency_key) BETWEEN 1 AND 260),
        ADD COLUMN idempotency_fingerprint text NULL
          CONSTRAINT runs_idempotency_fingerprint_format CHECK (idempotency_fingerprint ~ '^[0-9a-f]{64}$'),
        ADD CONSTRAINT runs_idempotency_key_has_fingerprint CHECK ((idempotency_key IS NULL) = (idempotency_fingerprint IS NULL))`);
    await queryRunner.query(`
      CREATE UNIQUE INDEX runs_idempotency_key_idx ON runs (tenant_id, created_by, idempotency_key)
      WHERE idempotency_key IS NOT NULL`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX runs_idempotency_key_idx`);
    await queryRunner.query(`ALTER TABLE runs DROP CONSTRAINT runs_idempotency_key_has_fingerprint, DROP COLUMN idempotency_fingerprint, DROP COLUMN idempotency_key`);
  }
}
