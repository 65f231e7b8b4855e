import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Whose run a trace belongs to, so reads scope by owner here too (members see only their own runs'
 * traces) instead of trusting the gateway's check alone: copied from the runs service
 * (GetRunLogAccess) when the run's trace row is created, as for run logs.
 *
 * Nullable only for rows created before this migration (their owner was never learned; a rolling
 * deploy's old replicas may still create some): the code writes an owner on every row it creates,
 * fills it in on a null-owner row at the row's next batch, and treats a null owner as visible to no
 * member (admins still see the trace).
 */
export class RunTraceOwner1764000000005 implements MigrationInterface {
  name = 'RunTraceOwner1764000000005';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE run_traces ADD COLUMN owner_id uuid NULL, ADD COLUMN session_id uuid NULL`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE run_traces DROP COLUMN session_id, DROP COLUMN owner_id`);
  }
}
