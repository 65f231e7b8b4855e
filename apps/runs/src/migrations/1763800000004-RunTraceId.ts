import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The W3C trace of the request that created a run, so the run's trace follows it: workers send its
 * id with every request they make for the run, and events written outside any trace (a claim, a
 * sweep) carry it; the span id (the runs service's span of that request) is the parent of the run's
 * root span, so one parent chain leads from the request to the execution. Null for runs created
 * outside a trace (and every run created before this migration); a span id only with a trace id.
 */
export class RunTraceId1763800000004 implements MigrationInterface {
  name = 'RunTraceId1763800000004';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE runs
        ADD COLUMN trace_id text NULL
          CONSTRAINT runs_trace_id_format CHECK (trace_id ~ '^[0-9a-f]{32}$' AND trace_id <> '00000000000000000000000000000000'),
        ADD COLUMN trace_parent_span_id text NULL
          CONSTRAINT runs_trace_parent_span_id_format CHECK (trace_parent_span_id ~ '^[0-9a-f]{16}$' AND trace_parent_span_id <> '0000000000000000'),
        ADD CONSTRAINT runs_trace_parent_span_id_in_trace CHECK (trace_parent_span_id IS NULL OR trace_id IS NOT NULL)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE runs DROP CONSTRAINT runs_trace_parent_span_id_in_trace, DROP COLUMN trace_parent_span_id, DROP COLUMN trace_id`);
  }
}
