import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Sessions (with sub-sessions) and their raw chat messages. Unqualified names: the data source's
 * search_path is the `sessions` schema. Indexes serve the list queries (tenant-wide, per owner, per
 * parent; newest first by the time-ordered id) and message pages (session, seq).
 */
export class CreateSessions1763600000001 implements MigrationInterface {
  name = 'CreateSessions1763600000001';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE sessions (
        id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL,
        owner_id uuid NOT NULL,
        parent_session_id uuid NULL REFERENCES sessions (id),
        title text NULL,
        status text NOT NULL CHECK (status IN ('active', 'archived')),
        metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
        route_policy jsonb NULL,
        reply_targets jsonb NOT NULL DEFAULT '[]'::jsonb,
        last_message_seq integer NOT NULL DEFAULT 0 CHECK (last_message_seq >= 0),
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        archived_at timestamptz NULL,
        CONSTRAINT sessions_archived_at_matches_status CHECK ((status = 'archived') = (archived_at IS NOT NULL))
      )`);
    await queryRunner.query(`CREATE INDEX sessions_tenant_id_idx ON sessions (tenant_id, id)`);
    await queryRunner.query(`CREATE INDEX sessions_tenant_owner_id_idx ON sessions (tenant_id, owner_id, id)`);
    await queryRunner.query(`CREATE INDEX sessions_tenant_parent_id_idx ON sessions (tenant_id, parent_session_id, id)`);
    await queryRunner.query(`
      CREATE TABLE chat_messages (
        id uuid PRIMARY KEY,
        session_id uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        tenant_id uuid NOT NULL,
        seq integer NOT NULL CHECK (seq >= 1),
        role text NOT NULL CHECK (role IN ('user', 'assistant', 'system', 'tool')),
        content text NULL,
        input_items jsonb NOT NULL,
        metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
        author_id uuid NOT NULL,
        created_at timestamptz NOT NULL,
        CONSTRAINT chat_messages_session_seq_key UNIQUE (session_id, seq)
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE chat_messages`);
    await queryRunner.query(`DROP TABLE sessions`);
  }
}
