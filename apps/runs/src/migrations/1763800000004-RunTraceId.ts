import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The W3C trace id of the request that created a run, so the run's trace follows it: workers send it
 * with every request they make for the run, and events written outside any trace (a claim, a sweep)
 * carry it. Null for runs created outside a trace (and every run created before this migration).
 */
export class RunTraceId1763800000004 implements MigrationInterface {
  name = 'RunTraceId1763800000004';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE runs
        ADD COLUMN trace_id text NULL
          CONSTRAINT runs_trace_id_format CHECK (trace_id ~ '^[0-9a-f]{32}$' AND trace_id <> '00000000000000000000000000000000')`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE runs DROP COLUMN trace_id`);
  }
}
