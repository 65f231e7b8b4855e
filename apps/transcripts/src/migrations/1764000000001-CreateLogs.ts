import type { MigrationInterface, QueryRunner } from 'typeorm';

const STREAMS = `'stdout', 'stderr', 'agent', 'system'`;
const LEVELS = `'debug', 'info', 'warn', 'error'`;

/**
 * Run logs. Unqualified names: the data source's search_path is the `transcripts` schema.
 *
 * `run_logs` has one row per run that has a log: who may read it (copied from the runs service when
 * the log opens), its counters, and its closing. Appends lock this row (FOR UPDATE) to number their
 * lines, so seqs are gapless and in commit order under any number of concurrent producers.
 * `log_lines` is append-only, keyed (run_id, seq): a batch is one INSERT of unnested arrays.
 * `log_batches` remembers each producer batch's reply, so a retry is not stored twice.
 * Segments and traces get tables of their own in later migrations.
 */
export class CreateLogs1764000000001 implements MigrationInterface {
  name = 'CreateLogs1764000000001';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE run_logs (
        run_id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL,
        owner_id uuid NOT NULL,
        session_id uuid NULL,
        last_seq bigint NOT NULL DEFAULT 0 CHECK (last_seq >= 0),
        bytes bigint NOT NULL DEFAULT 0 CHECK (bytes >= 0),
        limit_reached boolean NOT NULL DEFAULT false,
        run_ended_at timestamptz NULL,
        closes_at timestamptz NULL,
        closed_at timestamptz NULL,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL
      )`);
    await queryRunner.query(`CREATE INDEX run_logs_closing_idx ON run_logs (closes_at) WHERE closed_at IS NULL AND closes_at IS NOT NULL`);
    await queryRunner.query(`
      CREATE TABLE log_lines (
        run_id uuid NOT NULL,
        seq bigint NOT NULL CHECK (seq >= 1),
        tenant_id uuid NOT NULL,
        stream text NOT NULL CHECK (stream IN (${STREAMS})),
        level text NOT NULL CHECK (level IN (${LEVELS})),
        time timestamptz NOT NULL,
        text text NOT NULL,
        truncated boolean NOT NULL DEFAULT false,
        PRIMARY KEY (run_id, seq)
      )`);
    await queryRunner.query(`
      CREATE TABLE log_batches (
        run_id uuid NOT NULL,
        producer_id text NOT NULL,
        batch_seq bigint NOT NULL,
        reply jsonb NOT NULL,
        created_at timestamptz NOT NULL,
        PRIMARY KEY (run_id, producer_id, batch_seq)
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE log_batches`);
    await queryRunner.query(`DROP TABLE log_lines`);
    await queryRunner.query(`DROP TABLE run_logs`);
  }
}
