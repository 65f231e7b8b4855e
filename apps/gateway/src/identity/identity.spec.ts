import type { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Global, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { DomainError, ErrorCode } from '@runyard/contracts';
import { createServiceDataSource, openEmbeddedPostgres, runMigrations } from '@runyard/persistence';
import { uniqueName } from '@runyard/testing';
import { DataSource } from 'typeorm';
import { AuditService } from '../audit/audit.service.js';
import { gatewayEntities } from '../gateway-entities.js';
import { gatewayMigrations } from '../migrations/index.js';
import { ApiKeyAuthService } from './api-key-auth.service.js';
import { ApiKeysRepository } from './api-keys.repository.js';
import { ApiKeysService } from './api-keys.service.js';
import { AuthGuard } from './auth.guard.js';
import type { AuthenticatedCaller } from './caller.js';
import type { Clock } from './clock.js';
import { GATEWAY_REDIS } from '../edge/tokens.js';
import { IdentityModule } from './identity.module.js';
import { MeService } from './me.service.js';
import { PrincipalsRepository } from './principals.repository.js';
import { PrincipalsService } from './principals.service.js';
import { SystemKeyRepository } from './system-key.repository.js';
import { SystemKeyService } from './system-key.service.js';
import { TenantsRepository } from './tenants.repository.js';
import { TenantsService } from './tenants.service.js';

class TestClock implements Clock {
  private at = Date.parse('2026-03-01T10:00:00.000Z');
  now(): Date {
    return new Date(this.at);
  }
  advance(ms: number): void {
    this.at += ms;
  }
}

let pglite: PGlite;
const dataSources: DataSource[] = [];

beforeAll(async () => {
  pglite = await openEmbeddedPostgres();
}, 60_000);

afterAll(async () => {
  for (const dataSource of dataSources) if (dataSource.isInitialized) await dataSource.destroy();
  await pglite.close();
});

/** A data source on its own fresh schema: what one gateway replica sees. */
async function gatewayDatabase(schema = uniqueName('gateway')): Promise<DataSource> {
  const dataSource = createServiceDataSource({ schema, target: { kind: 'embedded', pglite }, entities: gatewayEntities, migrations: gatewayMigrations });
  dataSources.push(dataSource);
  await runMigrations(dataSource);
  return dataSource;
}

function identityServices(dataSource: DataSource, clock = new TestClock()) {
  const apiKeysRepository = new ApiKeysRepository(dataSource);
  const principalsRepository = new PrincipalsRepository(dataSource);
  const tenantsRepository = new TenantsRepository(dataSource);
  const auth = new ApiKeyAuthService(apiKeysRepository, clock);
  return {
    clock,
    auth,
    systemKeys: new SystemKeyService(new SystemKeyRepository(dataSource), clock),
    tenants: new TenantsService(tenantsRepository, clock),
    principals: new PrincipalsService(principalsRepository, clock),
    apiKeys: new ApiKeysService(apiKeysRepository, principalsRepository, auth, clock),
    me: new MeService(principalsRepository, tenantsRepository),
  };
}
type Identity = ReturnType<typeof identityServices>;

async function expectDomainError(promise: Promise<unknown>, code: ErrorCode): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(DomainError);
  expect((error as DomainError).code).toBe(code);
}

const bearer = (key: string): string => `Bearer ${key}`;

async function systemCaller(identity: Identity): Promise<AuthenticatedCaller> {
  const { generated } = await identity.systemKeys.ensureSystemKey();
  if (generated) return identity.auth.authenticate(bearer(generated));
  throw new Error('expected a fresh schema to generate the system key');
}

/** A tenant with its admin and a member, each with its own key. */
async function tenantWithMember(identity: Identity, system: AuthenticatedCaller, name = uniqueName('tenant')) {
  const created = await identity.tenants.create(system, { name });
  const admin = await identity.auth.authenticate(bearer(created.api_key.key));
  const memberPrincipal = await identity.principals.create(admin, { name: 'member', kind: 'user', role: 'member' });
  const memberKey = await identity.apiKeys.create(admin, { name: 'member key', principal_id: memberPrincipal.id });
  const member = await identity.auth.authenticate(bearer(memberKey.key));
  return { created, admin, adminKey: created.api_key, member, memberKey, memberPrincipal };
}

describe('SystemKeyService', () => {
  it('generates a system key on first start only and returns its plaintext once', async () => {
    const identity = identityServices(await gatewayDatabase());
    const first = await identity.systemKeys.ensureSystemKey();
    expect(first.generated).toMatch(/^ryk_[a-z0-9]{12}_[A-Za-z0-9_-]{43}$/);
    expect(await identity.systemKeys.ensureSystemKey()).toEqual({});

    const caller = await identity.auth.authenticate(bearer(first.generated ?? ''));
    expect(caller).toMatchObject({ kind: 'system', tenantId: null, role: 'system' });
    expect(caller.apiKeyPrefix).toBe((first.generated ?? '').slice(0, 16));
  });

  it('creates exactly one key when replicas start at the same time', async () => {
    const schema = uniqueName('gateway');
    const replicas = await Promise.all([gatewayDatabase(schema), gatewayDatabase(schema), gatewayDatabase(schema)]);
    const results = await Promise.all(replicas.map((dataSource) => identityServices(dataSource).systemKeys.ensureSystemKey()));
    const [first] = replicas;
    if (!first) throw new Error('no replica');

    expect(results.filter((result) => result.generated !== undefined)).toHaveLength(1);
    const [counts] = await first.query<Array<{ principals: string; keys: string }>>(
      `SELECT (SELECT count(*) FROM principals WHERE kind = 'system') AS principals,
              (SELECT count(*) FROM api_keys WHERE tenant_id IS NULL) AS keys`,
    );
    expect(counts).toEqual({ principals: '1', keys: '1' });
  });

  it('makes a configured key the valid system key, idempotently, and rotates when it changes', async () => {
    const schema = uniqueName('gateway');
    const dataSource = await gatewayDatabase(schema);
    const identity = identityServices(dataSource);
    const configured = `operator-chosen-${'x'.repeat(24)}-secret`;

    await Promise.all([identity.systemKeys.ensureSystemKey(configured), identityServices(await gatewayDatabase(schema)).systemKeys.ensureSystemKey(configured)]);
    expect(await identity.systemKeys.ensureSystemKey(configured)).toEqual({});
    // With a system key in place, a start without the variable generates nothing.
    expect(await identity.systemKeys.ensureSystemKey()).toEqual({});
    const caller = await identity.auth.authenticate(bearer(configured));
    expect(caller).toMatchObject({ kind: 'system', role: 'system' });
    expect(caller.apiKeyPrefix).toMatch(/^ryk_[a-z0-9]{12}$/);
    expect(configured).not.toContain(caller.apiKeyPrefix.slice(4));

    const [stored] = await dataSource.query<Array<{ count: string }>>(`SELECT count(*) FROM api_keys WHERE tenant_id IS NULL`);
    expect(stored?.count).toBe('1');
    const hashes = await dataSource.query<Array<{ key_hash: string; prefix: string }>>(`SELECT key_hash, prefix FROM api_keys`);
    expect(JSON.stringify(hashes)).not.toContain(configured);

    const rotated = `ryk_abcdefabcdef_${'A'.repeat(43)}`;
    await identityServices(dataSource).systemKeys.ensureSystemKey(rotated);
    await expect(identityServices(dataSource).auth.authenticate(bearer(configured))).rejects.toMatchObject({ reason: 'revoked_key' });
    await expect(identityServices(dataSource).auth.authenticate(bearer(rotated))).resolves.toMatchObject({ kind: 'system', apiKeyPrefix: 'ryk_abcdefabcdef' });
  });

  it('refuses a configured key too short to be a credential', async () => {
    const identity = identityServices(await gatewayDatabase());
    await expectDomainError(identity.systemKeys.ensureSystemKey('short'), ErrorCode.VALIDATION_FAILED);
  });
});

describe('identity services', () => {
  let identity: Identity;
  let system: AuthenticatedCaller;

  beforeAll(async () => {
    identity = identityServices(await gatewayDatabase());
    system = await systemCaller(identity);
  }, 30_000);

  describe('tenants', () => {
    it('creates a tenant, its first admin and the admin key in one go (system key only)', async () => {
      const created = await identity.tenants.create(system, { name: 'Acme', admin_name: 'alice' });
      expect(created.tenant).toMatchObject({ name: 'Acme' });
      expect(created.principal).toMatchObject({ tenant_id: created.tenant.id, name: 'alice', kind: 'user', role: 'admin', disabled_at: null });
      expect(created.api_key).toMatchObject({ principal_id: created.principal.id, role: 'admin', revoked_at: null, created_by: system.principalId });
      expect(created.api_key.key.startsWith(`${created.api_key.prefix}_`)).toBe(true);

      const admin = await identity.auth.authenticate(bearer(created.api_key.key));
      expect(admin).toEqual({
        kind: 'tenant',
        tenantId: created.tenant.id,
        principalId: created.principal.id,
        role: 'admin',
        apiKeyId: created.api_key.id,
        apiKeyPrefix: created.api_key.prefix,
      });
    });

    it('refuses tenant creation to tenant admins and members', async () => {
      const { admin, member } = await tenantWithMember(identity, system);
      await expectDomainError(identity.tenants.create(admin, { name: 'nope' }), ErrorCode.FORBIDDEN);
      await expectDomainError(identity.tenants.create(member, { name: 'nope' }), ErrorCode.FORBIDDEN);
    });
  });

  describe('principals', () => {
    it('lets an admin create and page through principals, newest first', async () => {
      const { admin, created, memberPrincipal } = await tenantWithMember(identity, system);
      const bot = await identity.principals.create(admin, { name: 'bot', kind: 'service_account', role: 'member' });
      expect(bot).toMatchObject({ tenant_id: admin.tenantId, kind: 'service_account', role: 'member' });

      const first = await identity.principals.list(admin, { limit: 2 });
      expect(first.data.map((p) => p.id)).toEqual([bot.id, memberPrincipal.id]);
      expect(first.next_cursor).not.toBeNull();
      const second = await identity.principals.list(admin, { limit: 2, cursor: first.next_cursor ?? undefined });
      expect(second.data.map((p) => p.id)).toEqual([created.principal.id]);
      expect(second.next_cursor).toBeNull();
    });

    it('refuses members and the system key', async () => {
      const { member } = await tenantWithMember(identity, system);
      await expectDomainError(identity.principals.create(member, { name: 'x', kind: 'user', role: 'admin' }), ErrorCode.FORBIDDEN);
      await expectDomainError(identity.principals.list(member, {}), ErrorCode.FORBIDDEN);
      await expectDomainError(identity.principals.create(system, { name: 'x', kind: 'user', role: 'admin' }), ErrorCode.FORBIDDEN);
      await expectDomainError(identity.principals.list(system, {}), ErrorCode.FORBIDDEN);
    });

    it('rejects a cursor it did not issue', async () => {
      const { admin } = await tenantWithMember(identity, system);
      await expectDomainError(identity.principals.list(admin, { cursor: 'not-a-cursor' }), ErrorCode.INVALID_CURSOR);
    });
  });

  describe('API keys', () => {
    it('lets an admin create keys for any principal of its tenant and a member only for itself', async () => {
      const { admin, member, memberPrincipal } = await tenantWithMember(identity, system);

      const forMember = await identity.apiKeys.create(admin, { name: 'ci', principal_id: memberPrincipal.id });
      expect(forMember).toMatchObject({ principal_id: memberPrincipal.id, role: 'member', created_by: admin.principalId });
      const ownByDefault = await identity.apiKeys.create(member, { name: 'laptop' });
      expect(ownByDefault).toMatchObject({ principal_id: member.principalId, role: 'member' });
      await expect(identity.auth.authenticate(bearer(ownByDefault.key))).resolves.toMatchObject({ principalId: member.principalId, role: 'member' });

      await expectDomainError(identity.apiKeys.create(member, { name: 'escalate', principal_id: admin.principalId }), ErrorCode.NOT_FOUND);
      await expectDomainError(identity.apiKeys.create(admin, { name: 'ghost', principal_id: '01900000-0000-7000-8000-000000000000' }), ErrorCode.NOT_FOUND);
      await expectDomainError(identity.apiKeys.create(system, { name: 'x' }), ErrorCode.FORBIDDEN);
    });

    it('lists the whole tenant for admins and only their own keys for members, never a hash or secret', async () => {
      const { admin, adminKey, member, memberKey } = await tenantWithMember(identity, system);
      const second = await identity.apiKeys.create(member, { name: 'second' });

      const all = await identity.apiKeys.list(admin, {});
      expect(all.data.map((key) => key.id)).toEqual([second.id, memberKey.id, adminKey.id]);
      const own = await identity.apiKeys.list(member, { limit: 1 });
      expect(own.data.map((key) => key.id)).toEqual([second.id]);
      const ownRest = await identity.apiKeys.list(member, { limit: 1, cursor: own.next_cursor ?? undefined });
      expect(ownRest.data.map((key) => key.id)).toEqual([memberKey.id]);
      expect(ownRest.next_cursor).toBeNull();

      for (const view of all.data) {
        expect(Object.keys(view).sort()).toEqual(['created_at', 'created_by', 'id', 'last_used_at', 'name', 'prefix', 'principal_id', 'revoked_at', 'role']);
      }
      expect(JSON.stringify(all)).not.toContain(second.key.slice(17));
      await expectDomainError(identity.apiKeys.list(system, {}), ErrorCode.FORBIDDEN);
    });

    it('revokes idempotently, and the revoked key stops authenticating at once even though it was cached', async () => {
      const { admin, member, memberKey } = await tenantWithMember(identity, system);
      const spare = await identity.apiKeys.create(admin, { name: 'spare' });
      // Authenticate first so the key sits in the in-process cache.
      await identity.auth.authenticate(bearer(memberKey.key));

      await expectDomainError(identity.apiKeys.revoke(member, spare.id), ErrorCode.NOT_FOUND);
      const revoked = await identity.apiKeys.revoke(member, memberKey.id);
      expect(revoked.revoked_at).toBe(identity.clock.now().toISOString());
      await expect(identity.auth.authenticate(bearer(memberKey.key))).rejects.toMatchObject({ code: ErrorCode.UNAUTHENTICATED, reason: 'revoked_key' });

      identity.clock.advance(1000);
      const again = await identity.apiKeys.revoke(admin, memberKey.id);
      expect(again).toMatchObject({ id: memberKey.id, revoked_at: revoked.revoked_at });
      const other = await identity.apiKeys.revoke(admin, spare.id);
      expect(other.revoked_at).not.toBeNull();
      await expectDomainError(identity.apiKeys.revoke(admin, 'not-a-uuid'), ErrorCode.NOT_FOUND);
      await expectDomainError(identity.apiKeys.revoke(system, spare.id), ErrorCode.FORBIDDEN);
    });
  });

  describe('tenant isolation', () => {
    it("hides every principal and key of tenant A from tenant B's admin (not_found, never forbidden)", async () => {
      const a = await tenantWithMember(identity, system);
      const b = await tenantWithMember(identity, system);

      const bPrincipals = await identity.principals.list(b.admin, {});
      expect(bPrincipals.data.map((p) => p.tenant_id)).toEqual([b.admin.tenantId, b.admin.tenantId]);
      const bKeys = await identity.apiKeys.list(b.admin, {});
      expect(bKeys.data.map((key) => key.id)).not.toContain(a.adminKey.id);
      expect(bKeys.data.map((key) => key.id)).not.toContain(a.memberKey.id);

      await expectDomainError(identity.apiKeys.revoke(b.admin, a.adminKey.id), ErrorCode.NOT_FOUND);
      await expectDomainError(identity.apiKeys.create(b.admin, { name: 'x', principal_id: a.memberPrincipal.id }), ErrorCode.NOT_FOUND);
      await expect(identity.auth.authenticate(bearer(a.adminKey.key))).resolves.toMatchObject({ tenantId: a.admin.tenantId });
    });
  });

  describe('me', () => {
    it('describes a tenant caller and the system key', async () => {
      const { created, member, memberKey, memberPrincipal } = await tenantWithMember(identity, system);
      expect(await identity.me.describe(member)).toEqual({
        principal: memberPrincipal,
        tenant: created.tenant,
        role: 'member',
        api_key: { id: memberKey.id, prefix: memberKey.prefix },
      });

      const me = await identity.me.describe(system);
      expect(me).toMatchObject({ tenant: null, role: 'system', principal: { kind: 'system', tenant_id: null }, api_key: { id: system.apiKeyId } });
    });
  });
});

describe('IdentityModule', () => {
  it('wires every provider from a DataSource the app provides, and exports the AuthGuard', async () => {
    const dataSource = await gatewayDatabase();

    @Global()
    @Module({
      providers: [
        { provide: DataSource, useValue: dataSource },
        { provide: GATEWAY_REDIS, useValue: null },
      ],
      exports: [DataSource, GATEWAY_REDIS],
    })
    class DatabaseModule {}
    @Module({ imports: [DatabaseModule, IdentityModule] })
    class AppModule {}

    const app = await NestFactory.createApplicationContext(AppModule, { logger: false });
    try {
      expect(app.get(AuthGuard)).toBeInstanceOf(AuthGuard);
      expect(app.get(AuditService)).toBeInstanceOf(AuditService);
      const { generated } = await app.get(SystemKeyService).ensureSystemKey();
      await expect(app.get(ApiKeyAuthService).authenticate(bearer(generated ?? ''))).resolves.toMatchObject({ kind: 'system' });
    } finally {
      await app.close();
    }
  });
});
