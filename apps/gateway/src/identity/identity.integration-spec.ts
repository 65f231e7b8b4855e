import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DomainError, ErrorCode } from '@runyard/contracts';
import { createServiceDataSource, runMigrations } from '@runyard/persistence';
import { createTestDatabase, expectEventually } from '@runyard/testing';
import type { DataSource } from 'typeorm';
import { GATEWAY_SCHEMA, gatewayEntities } from '../gateway-entities.js';
import { gatewayMigrations } from '../migrations/index.js';
import { ApiKeyAuthService, LAST_USED_RESOLUTION_MS } from './api-key-auth.service.js';
import { ApiKeysRepository } from './api-keys.repository.js';
import { ApiKeysService } from './api-keys.service.js';
import type { AuthenticatedCaller } from './caller.js';
import { systemClock, type Clock } from './clock.js';
import { PrincipalsRepository } from './principals.repository.js';
import { PrincipalsService } from './principals.service.js';
import { SystemKeyRepository } from './system-key.repository.js';
import { SystemKeyService } from './system-key.service.js';
import { TenantsRepository } from './tenants.repository.js';
import { TenantsService } from './tenants.service.js';

/** Identity on real PostgreSQL: several "replicas" (data sources with their own pools) at once. */
let database: { url: string; drop(): Promise<void> };
const dataSources: DataSource[] = [];

async function replica(url: string): Promise<DataSource> {
  const dataSource = createServiceDataSource({ schema: GATEWAY_SCHEMA, target: { kind: 'postgres', url, poolMax: 4 }, entities: gatewayEntities, migrations: gatewayMigrations });
  dataSources.push(dataSource);
  await dataSource.initialize();
  return dataSource;
}

function services(dataSource: DataSource, clock: Clock = systemClock) {
  const apiKeysRepository = new ApiKeysRepository(dataSource);
  const principalsRepository = new PrincipalsRepository(dataSource);
  const auth = new ApiKeyAuthService(apiKeysRepository, clock);
  return {
    auth,
    systemKeys: new SystemKeyService(new SystemKeyRepository(dataSource), clock),
    tenants: new TenantsService(new TenantsRepository(dataSource), clock),
    principals: new PrincipalsService(principalsRepository, clock),
    apiKeys: new ApiKeysService(apiKeysRepository, principalsRepository, auth, clock),
  };
}

async function freshDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const created = await createTestDatabase('gateway_identity');
  await runMigrations(await replica(created.url));
  return created;
}

beforeAll(async () => {
  database = await freshDatabase();
}, 60_000);

function nth(replicas: DataSource[], index: number): DataSource {
  const found = replicas[index];
  if (!found) throw new Error(`no replica ${index}`);
  return found;
}

const extraDatabases: Array<{ drop(): Promise<void> }> = [];
afterAll(async () => {
  for (const dataSource of dataSources) if (dataSource.isInitialized) await dataSource.destroy();
  await database.drop();
  for (const extra of extraDatabases) await extra.drop();
});

describe('system key bootstrap on PostgreSQL', () => {
  it('generates exactly one key when many replicas start at once', async () => {
    const own = await freshDatabase();
    extraDatabases.push(own);
    const replicas = await Promise.all(Array.from({ length: 6 }, () => replica(own.url)));
    const results = await Promise.all(replicas.map((dataSource) => services(dataSource).systemKeys.ensureSystemKey()));

    const generated = results.flatMap((result) => (result.generated ? [result.generated] : []));
    expect(generated).toHaveLength(1);
    const [counts] = await nth(replicas, 0).query<Array<{ principals: string; keys: string }>>(
      `SELECT (SELECT count(*) FROM principals WHERE kind = 'system') AS principals, (SELECT count(*) FROM api_keys WHERE tenant_id IS NULL) AS keys`,
    );
    expect(counts).toEqual({ principals: '1', keys: '1' });
    await expect(services(nth(replicas, 3)).auth.authenticate(`Bearer ${generated[0] ?? ''}`)).resolves.toMatchObject({ kind: 'system' });
  });

  it('activates a configured key once across replicas racing, and restarts change nothing', async () => {
    const own = await freshDatabase();
    extraDatabases.push(own);
    const configured = `ryk_configured00_${'Q'.repeat(43)}`;
    const replicas = await Promise.all(Array.from({ length: 4 }, () => replica(own.url)));
    const results = await Promise.all(replicas.map((dataSource) => services(dataSource).systemKeys.ensureSystemKey(configured)));
    expect(results).toEqual([{}, {}, {}, {}]);
    expect(await services(nth(replicas, 0)).systemKeys.ensureSystemKey(configured)).toEqual({});

    const keys = await nth(replicas, 0).query<Array<{ prefix: string; revoked_at: Date | null }>>(`SELECT prefix, revoked_at FROM api_keys WHERE tenant_id IS NULL`);
    expect(keys).toEqual([{ prefix: 'ryk_configured00', revoked_at: null }]);
    await expect(services(nth(replicas, 2)).auth.authenticate(`Bearer ${configured}`)).resolves.toMatchObject({ kind: 'system', apiKeyPrefix: 'ryk_configured00' });
  });
});

describe('identity on PostgreSQL', () => {
  let system: AuthenticatedCaller;
  let identity: ReturnType<typeof services>;

  beforeAll(async () => {
    identity = services(await replica(database.url));
    const { generated } = await identity.systemKeys.ensureSystemKey();
    system = await identity.auth.authenticate(`Bearer ${generated ?? ''}`);
  });

  it("keeps tenants apart: another tenant's admin gets not_found for every foreign id", async () => {
    const a = await identity.tenants.create(system, { name: 'A' });
    const b = await identity.tenants.create(system, { name: 'B' });
    const adminA = await identity.auth.authenticate(`Bearer ${a.api_key.key}`);
    const adminB = await identity.auth.authenticate(`Bearer ${b.api_key.key}`);
    const memberA = await identity.principals.create(adminA, { name: 'm', kind: 'service_account', role: 'member' });

    expect((await identity.principals.list(adminB, {})).data.map((p) => p.id)).toEqual([b.principal.id]);
    expect((await identity.apiKeys.list(adminB, {})).data.map((k) => k.id)).toEqual([b.api_key.id]);
    const attempts = [() => identity.apiKeys.revoke(adminB, a.api_key.id), () => identity.apiKeys.create(adminB, { name: 'x', principal_id: memberA.id })];
    for (const attempt of attempts) {
      const error = await attempt().catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(DomainError);
      expect((error as DomainError).code).toBe(ErrorCode.NOT_FOUND);
    }
    await expect(identity.auth.authenticate(`Bearer ${a.api_key.key}`)).resolves.toMatchObject({ tenantId: a.tenant.id });
  });

  it('records last use of a key, and a revocation on one replica reaches another within the cache bound', async () => {
    const tenant = await identity.tenants.create(system, { name: 'C' });
    const admin = await identity.auth.authenticate(`Bearer ${tenant.api_key.key}`);
    const spare = await identity.apiKeys.create(admin, { name: 'spare' });

    let now = Date.now();
    const otherReplica = services(await replica(database.url), { now: () => new Date(now) });
    await otherReplica.auth.authenticate(`Bearer ${spare.key}`);
    await expectEventually(async () => {
      const [row] = (await identity.apiKeys.list(admin, {})).data.filter((key) => key.id === spare.id);
      expect(row?.last_used_at).toBe(new Date(now).toISOString());
    });

    await identity.apiKeys.revoke(admin, spare.id);
    // The other replica's cache still holds the key; past the cache TTL it asks the database again.
    now += LAST_USED_RESOLUTION_MS;
    await expect(otherReplica.auth.authenticate(`Bearer ${spare.key}`)).rejects.toMatchObject({ reason: 'revoked_key' });
  });
});
