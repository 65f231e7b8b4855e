import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The transactional outbox table. Each service lists this migration in its own migration list; table
 * names are unqualified on purpose, so it lands in the schema of that service's search_path.
 */
export class CreateOutboxEvents1763600000000 implements MigrationInterface {
  name = 'CreateOutboxEvents1763600000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE outbox_events (
        id uuid PRIMARY KEY,
        -- Insert order, the relay's publishing order. Ids are UUIDv7 from each replica's clock, so
        -- they may disagree with the order in which row locks let writers through; this does not.
        position bigint GENERATED ALWAYS AS IDENTITY,
        subject text NOT NULL,
        tenant_id uuid NOT NULL,
        envelope jsonb NOT NULL,
        headers jsonb NOT NULL DEFAULT '{}'::jsonb,
        created_at timestamptz NOT NULL DEFAULT now(),
        published_at timestamptz NULL
      )`);
    // The relay reads unpublished rows in insert order; pruning reads published rows by age.
    await queryRunner.query(`CREATE INDEX outbox_events_unpublished_idx ON outbox_events (position) WHERE published_at IS NULL`);
    await queryRunner.query(
      `CREATE INDEX outbox_events_published_at_idx ON outbox_events (published_at) WHERE published_at IS NOT NULL`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE outbox_events`);
  }
}
