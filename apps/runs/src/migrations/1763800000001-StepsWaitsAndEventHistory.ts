import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Plan steps and waits get their commands: each is named by a key the executor chooses, unique
 * within its run (asking again with the same key finds the first one); a wait carries what is to be
 * approved (`details`) and, once answered, its answer. A wait is answered exactly when it has an
 * answer. The run's event history is read from the outbox by `envelope->>'run_id'` in insert order,
 * which the expression index serves. Tables were written by nothing before this migration, so the new
 * NOT NULL columns need no backfill beyond the defensive one below.
 */
export class StepsWaitsAndEventHistory1763800000001 implements MigrationInterface {
  name = 'StepsWaitsAndEventHistory1763800000001';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE plan_steps ADD COLUMN key text NULL`);
    await queryRunner.query(`UPDATE plan_steps SET key = id::text WHERE key IS NULL`);
    await queryRunner.query(`ALTER TABLE plan_steps ALTER COLUMN key SET NOT NULL`);
    await queryRunner.query(`ALTER TABLE plan_steps ADD CONSTRAINT plan_steps_run_key_key UNIQUE (run_id, key)`);

    await queryRunner.query(`ALTER TABLE waits ADD COLUMN key text NULL`);
    await queryRunner.query(`UPDATE waits SET key = id::text WHERE key IS NULL`);
    await queryRunner.query(`ALTER TABLE waits ALTER COLUMN key SET NOT NULL`);
    await queryRunner.query(`ALTER TABLE waits ADD CONSTRAINT waits_run_key_key UNIQUE (run_id, key)`);
    await queryRunner.query(`ALTER TABLE waits ADD COLUMN details jsonb NULL`);
    await queryRunner.query(`ALTER TABLE waits ADD COLUMN decision text NULL CHECK (decision IN ('approved', 'denied', 'responded'))`);
    await queryRunner.query(`
      ALTER TABLE waits ADD CONSTRAINT waits_answered_has_answer
      CHECK ((status = 'answered') = (answer IS NOT NULL AND decision IS NOT NULL AND answered_at IS NOT NULL))`);

    await queryRunner.query(`CREATE INDEX outbox_events_run_id_idx ON outbox_events ((envelope ->> 'run_id'), position)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX outbox_events_run_id_idx`);
    await queryRunner.query(`ALTER TABLE waits DROP CONSTRAINT waits_answered_has_answer`);
    await queryRunner.query(`ALTER TABLE waits DROP COLUMN decision`);
    await queryRunner.query(`ALTER TABLE waits DROP COLUMN details`);
    await queryRunner.query(`ALTER TABLE waits DROP CONSTRAINT waits_run_key_key`);
    await queryRunner.query(`ALTER TABLE waits DROP COLUMN key`);
    await queryRunner.query(`ALTER TABLE plan_steps DROP CONSTRAINT plan_steps_run_key_key`);
    await queryRunner.query(`ALTER TABLE plan_steps DROP COLUMN key`);
  }
}
