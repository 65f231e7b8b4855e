import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createTestDatabase, expectEventually, startPrivateNats, testInfra, uniqueName, type PrivateNats } from '@runyard/testing';
import { bootDistributed, type BootedDistributed } from './boot-distributed.js';
import { ApiClient } from './http-client.js';

// NATS going away must give clients a clear 503, and the services must recover by themselves.
describe('NATS outage (distributed mode)', () => {
  let nats: PrivateNats;
  let runyard: BootedDistributed;
  let dropDatabase: () => Promise<void>;
  let admin: ApiClient;

  beforeAll(async () => {
    nats = await startPrivateNats();
    const database = await createTestDatabase();
    dropDatabase = database.drop;
    runyard = await bootDistributed({ databaseUrl: database.url, natsUrl: nats.url, redisUrl: testInfra.redisUrl, namespace: uniqueName('outage'), sessionsReplicas: 1 });
    const tenant = await new ApiClient(runyard.url, runyard.systemKey).post<{ api_key: { key: string } }>('/v1/tenants', { name: 'Outage' });
    admin = new ApiClient(runyard.url, tenant.body.api_key.key);
  });

  afterAll(async () => {
    await runyard?.close();
    await nats?.dispose();
    await dropDatabase?.();
  });

  it('answers 503 while NATS is down and recovers when it returns', async () => {
    expect((await admin.post('/v1/sessions', { title: 'before' })).status).toBe(201);

    await nats.stop();
    await expectEventually(async () => {
      const response = await admin.get<{ code: string }>('/v1/sessions');
      expect(response.status).toBe(503);
      expect(response.body.code).toBe('service_unavailable');
      expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
    });
    expect((await admin.get('/readyz')).status).toBe(503);

    await nats.start();
    await expectEventually(async () => expect((await admin.post('/v1/sessions', { title: 'after' })).status).toBe(201), { timeoutMs: 20_000 });
    expect((await admin.get('/readyz')).status).toBe(200);
    const titles = (await admin.get<{ data: { title: string }[] }>('/v1/sessions')).body.data.map((s) => s.title);
    expect(titles).toEqual(['after', 'before']);
  });

  it('starts the services before NATS is up; they serve once it arrives', async () => {
    const late = await startPrivateNats();
    await late.stop();
    const database = await createTestDatabase();
    try {
      // NatsBus.connect waits for the first connection instead of failing the boot.
      const booting = bootDistributed({ databaseUrl: database.url, natsUrl: late.url, redisUrl: testInfra.redisUrl, namespace: uniqueName('late'), sessionsReplicas: 1 });
      await late.start();
      const started = await booting;
      try {
        const tenant = await new ApiClient(started.url, started.systemKey).post<{ api_key: { key: string } }>('/v1/tenants', { name: 'Late' });
        expect(tenant.status).toBe(201);
        expect((await new ApiClient(started.url, tenant.body.api_key.key).post('/v1/sessions', { title: 'late' })).status).toBe(201);
      } finally {
        await started.close();
      }
    } finally {
      await late.dispose();
      await database.drop();
    }
  });
});
