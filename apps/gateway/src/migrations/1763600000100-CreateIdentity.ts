import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Tenants, principals and API keys. Unqualified names: the data source's search_path is `gateway`. */
export class CreateIdentity1763600000100 implements MigrationInterface {
  name = 'CreateIdentity1763600000100';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE tenants (
        id uuid PRIMARY KEY,
        name text NOT NULL,
        created_at timestamptz NOT NULL
      )`);
    await queryRunner.query(`
      CREATE TABLE principals (
        id uuid PRIMARY KEY,
        tenant_id uuid REFERENCES tenants (id),
        name text NOT NULL,
        kind text NOT NULL CHECK (kind IN ('user', 'service_account', 'system')),
        role text NOT NULL CHECK (role IN ('admin', 'member', 'system')),
        created_at timestamptz NOT NULL,
        disabled_at timestamptz,
        -- the system principal, and only it, lives outside every tenant
        CHECK ((kind = 'system') = (tenant_id IS NULL)),
        CHECK ((kind = 'system') = (role = 'system'))
      )`);
    await queryRunner.query(`CREATE INDEX principals_tenant_created ON principals (tenant_id, created_at DESC, id DESC)`);
    // Two replicas bootstrapping at once cannot create two system principals.
    await queryRunner.query(`CREATE UNIQUE INDEX principals_one_system ON principals ((kind)) WHERE kind = 'system'`);
    await queryRunner.query(`
      CREATE TABLE api_keys (
        id uuid PRIMARY KEY,
        tenant_id uuid REFERENCES tenants (id),
        principal_id uuid NOT NULL REFERENCES principals (id),
        name text NOT NULL,
        prefix text NOT NULL,
        key_hash text NOT NULL,
        created_at timestamptz NOT NULL,
        last_used_at timestamptz,
        revoked_at timestamptz,
        created_by uuid REFERENCES principals (id)
      )`);
    await queryRunner.query(`CREATE UNIQUE INDEX api_keys_prefix ON api_keys (prefix)`);
    // The authentication lookup: one indexed probe per request.
    await queryRunner.query(`CREATE UNIQUE INDEX api_keys_key_hash ON api_keys (key_hash)`);
    await queryRunner.query(`CREATE INDEX api_keys_tenant_created ON api_keys (tenant_id, created_at DESC, id DESC)`);
    await queryRunner.query(`CREATE INDEX api_keys_principal_created ON api_keys (principal_id, created_at DESC, id DESC)`);
    // At most one valid system key at any time, whatever replicas do concurrently.
    await queryRunner.query(`CREATE UNIQUE INDEX api_keys_one_active_system ON api_keys ((tenant_id IS NULL)) WHERE tenant_id IS NULL AND revoked_at IS NULL`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE api_keys`);
    await queryRunner.query(`DROP TABLE principals`);
    await queryRunner.query(`DROP TABLE tenants`);
  }
}
