import type { MigrationInterface, QueryRunner } from 'typeorm';

const KINDS = `'tool_call', 'model_call', 'approval', 'state_change', 'internal'`;
const STATUSES = `'ok', 'error', 'unset'`;

/**
 * Run traces. Unqualified names: the data source's search_path is the `transcripts` schema.
 *
 * `run_traces` has one row per run that has spans: its tenant (a span id never moves across runs or
 * tenants) and its span count, locked (FOR UPDATE) by each batch so the per-run limit holds under
 * concurrent batches. `trace_spans` is keyed (run_id, span_id): a span sent again is an upsert.
 */
export class CreateTraceSpans1764000000004 implements MigrationInterface {
  name = 'CreateTraceSpans1764000000004';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE run_traces (
        run_id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL,
        span_count integer NOT NULL DEFAULT 0 CHECK (span_count >= 0),
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL
      )`);
    await queryRunner.query(`
      CREATE TABLE trace_spans (
        run_id uuid NOT NULL,
        span_id text NOT NULL CHECK (span_id ~ '^[0-9a-f]{16}$'),
        tenant_id uuid NOT NULL,
        trace_id text NOT NULL CHECK (trace_id ~ '^[0-9a-f]{32}$'),
        parent_span_id text NULL CHECK (parent_span_id ~ '^[0-9a-f]{16}$'),
        name text NOT NULL,
        kind text NOT NULL CHECK (kind IN (${KINDS})),
        attributes jsonb NOT NULL DEFAULT '{}'::jsonb,
        start_time timestamptz NOT NULL,
        end_time timestamptz NULL,
        status text NOT NULL CHECK (status IN (${STATUSES})),
        status_message text NULL,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        PRIMARY KEY (run_id, span_id),
        CHECK (end_time IS NULL OR end_time >= start_time)
      )`);
    await queryRunner.query(`CREATE INDEX trace_spans_run_start_idx ON trace_spans (tenant_id, run_id, start_time)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE trace_spans`);
    await queryRunner.query(`DROP TABLE run_traces`);
  }
}
