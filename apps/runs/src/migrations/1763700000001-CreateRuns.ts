import type { MigrationInterface, QueryRunner } from 'typeorm';

const STATUSES = `'queued', 'pending', 'running', 'waiting_for_approval', 'waiting_for_input', 'cancelling', 'completed', 'failed', 'cancelled', 'expired'`;
const ACTIVE = `'pending', 'running', 'waiting_for_approval', 'waiting_for_input', 'cancelling'`;

/**
 * Runs (with sub-runs), their plan steps and waits. Unqualified names: the data source's search_path
 * is the `runs` schema. The partial unique index makes "one active top-level run per session" a
 * database guarantee, not only a rule of the service. `queue_seq` numbers runs in the order they were
 * accepted (inserted under their session's queue lock), which is the order of a session's queue. Plan steps and waits get their commands later.
 */
export class CreateRuns1763700000001 implements MigrationInterface {
  name = 'CreateRuns1763700000001';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE runs (
        id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL,
        owner_id uuid NOT NULL,
        created_by uuid NOT NULL,
        session_id uuid NULL,
        parent_run_id uuid NULL REFERENCES runs (id),
        task_id uuid NULL,
        job_id uuid NULL,
        source text NOT NULL,
        status text NOT NULL CHECK (status IN (${STATUSES})),
        jumps_queue boolean NOT NULL DEFAULT false,
        queue_seq bigint GENERATED ALWAYS AS IDENTITY,
        input text NULL,
        input_items jsonb NULL,
        route jsonb NOT NULL,
        route_source text NOT NULL CHECK (route_source IN ('run', 'session', 'default')),
        executor text NOT NULL,
        reply_targets jsonb NOT NULL DEFAULT '[]'::jsonb,
        metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
        attempt integer NOT NULL DEFAULT 0 CHECK (attempt >= 0),
        max_attempts integer NOT NULL CHECK (max_attempts >= 1),
        ttl_seconds integer NULL,
        expires_at timestamptz NULL,
        max_duration_seconds integer NULL,
        deadline_at timestamptz NULL,
        worker_id text NULL,
        lease_token integer NOT NULL DEFAULT 0,
        lease_expires_at timestamptz NULL,
        output jsonb NULL,
        failure_class text NULL CHECK (failure_class IN ('error', 'crashed', 'timeout')),
        failure_message text NULL,
        cancel_reason text NULL,
        cancelled_by uuid NULL,
        version integer NOT NULL DEFAULT 1,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        started_at timestamptz NULL,
        finished_at timestamptz NULL,
        CONSTRAINT runs_failure_class_matches_status CHECK ((status = 'failed') = (failure_class IS NOT NULL))
      )`);
    await queryRunner.query(`
      CREATE UNIQUE INDEX runs_one_active_per_session_idx ON runs (session_id)
      WHERE parent_run_id IS NULL AND status IN (${ACTIVE})`);
    await queryRunner.query(`CREATE INDEX runs_tenant_id_idx ON runs (tenant_id, id)`);
    await queryRunner.query(`CREATE INDEX runs_tenant_owner_id_idx ON runs (tenant_id, owner_id, id)`);
    await queryRunner.query(`CREATE INDEX runs_session_status_idx ON runs (session_id, status, queue_seq)`);
    await queryRunner.query(`CREATE INDEX runs_parent_id_idx ON runs (parent_run_id, id) WHERE parent_run_id IS NOT NULL`);
    // Claims take the oldest pending run; the sweeper looks for expired leases and TTLs.
    await queryRunner.query(`CREATE INDEX runs_pending_idx ON runs (id) WHERE status = 'pending'`);
    await queryRunner.query(`CREATE INDEX runs_lease_expiry_idx ON runs (lease_expires_at) WHERE status IN ('running', 'cancelling')`);
    await queryRunner.query(`CREATE INDEX runs_ttl_idx ON runs (expires_at) WHERE status IN ('queued', 'pending') AND expires_at IS NOT NULL`);
    await queryRunner.query(`
      CREATE TABLE plan_steps (
        id uuid PRIMARY KEY,
        run_id uuid NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        tenant_id uuid NOT NULL,
        position integer NOT NULL CHECK (position >= 1),
        title text NOT NULL,
        status text NOT NULL CHECK (status IN ('pending', 'in_progress', 'completed', 'failed', 'skipped')),
        evidence jsonb NOT NULL DEFAULT '[]'::jsonb,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        CONSTRAINT plan_steps_run_position_key UNIQUE (run_id, position)
      )`);
    await queryRunner.query(`
      CREATE TABLE waits (
        id uuid PRIMARY KEY,
        run_id uuid NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        tenant_id uuid NOT NULL,
        kind text NOT NULL CHECK (kind IN ('approval', 'input')),
        prompt text NOT NULL,
        schema jsonb NULL,
        status text NOT NULL CHECK (status IN ('open', 'answered', 'expired', 'cancelled')),
        answer jsonb NULL,
        timeout_at timestamptz NULL,
        answered_by uuid NULL,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        answered_at timestamptz NULL
      )`);
    await queryRunner.query(`CREATE INDEX waits_run_id_idx ON waits (run_id, id)`);
    await queryRunner.query(`CREATE INDEX waits_timeout_idx ON waits (timeout_at) WHERE status = 'open' AND timeout_at IS NOT NULL`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE waits`);
    await queryRunner.query(`DROP TABLE plan_steps`);
    await queryRunner.query(`DROP TABLE runs`);
  }
}
