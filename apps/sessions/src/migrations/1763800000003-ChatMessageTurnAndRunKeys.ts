import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What makes chat appends exactly-once:
 *  - `idempotency_key`: a turn's Idempotency-Key; one message per (tenant, session, author, key), so
 *    a retried turn finds the message it appended (keys are the caller's, as at the gateway).
 *  - `run_id` + `run_message_key`: an assistant message a run posted, once per (tenant, run, key),
 *    however often its event is delivered.
 */
export class ChatMessageTurnAndRunKeys1763800000003 implements MigrationInterface {
  name = 'ChatMessageTurnAndRunKeys1763800000003';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE chat_messages
        ADD COLUMN idempotency_key text NULL CONSTRAINT chat_messages_idempotency_key_length CHECK (char_length(idempotency_key) BETWEEN 1 AND 255),
        ADD COLUMN run_id uuid NULL,
        ADD COLUMN run_message_key text NULL,
        ADD CONSTRAINT chat_messages_run_key_pair CHECK ((run_id IS NULL) = (run_message_key IS NULL))`);
    await queryRunner.query(`
      CREATE UNIQUE INDEX chat_messages_idempotency_key_idx ON chat_messages (tenant_id, session_id, author_id, idempotency_key)
      WHERE idempotency_key IS NOT NULL`);
    await queryRunner.query(`
      CREATE UNIQUE INDEX chat_messages_run_message_key_idx ON chat_messages (tenant_id, run_id, run_message_key)
      WHERE run_id IS NOT NULL`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX chat_messages_run_message_key_idx`);
    await queryRunner.query(`DROP INDEX chat_messages_idempotency_key_idx`);
    await queryRunner.query(`
      ALTER TABLE chat_messages
        DROP CONSTRAINT chat_messages_run_key_pair,
        DROP COLUMN run_message_key,
        DROP COLUMN run_id,
        DROP COLUMN idempotency_key`);
  }
}
