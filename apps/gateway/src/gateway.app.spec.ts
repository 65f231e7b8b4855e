import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { PGlite } from '@electric-sql/pglite';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { CreateSession, GetSession, type CallerScope, type SessionView } from '@runyard/contracts';
import { InProcessBus, type HandlerContext } from '@runyard/messaging';
import { openEmbeddedPostgres, runMigrations } from '@runyard/persistence';
import { expectEventually } from '@runyard/testing';
import { pino } from 'pino';
import type { DataSource } from 'typeorm';
import type { GatewaySettings } from './config.js';
import { createGatewayApp } from './gateway.app.js';
import { createGatewayDataSource } from './gateway-data-source.js';
import { gatewayReadinessChecks } from './readiness.js';

// The assembled app on standalone infrastructure (PGlite, in-process bus), with a stand-in sessions
// service on the bus: what createGatewayApp wires together, not each edge rule (see edge/*.spec.ts).

const settings: GatewaySettings = { bodyLimitBytes: 1 << 20, rateLimitPoints: 1000, rateLimitDurationSeconds: 10, requestTimeoutMs: 2000 };
const logger = pino({ level: 'silent' });

let pglite: PGlite;
let dataSource: DataSource;
let bus: InProcessBus;
let app: NestFastifyApplication;
let base: string;
let systemKey: string | undefined;
const received: { scope: CallerScope; ctx: HandlerContext }[] = [];

async function boot(): Promise<{ app: NestFastifyApplication; generatedSystemKey?: string }> {
  return createGatewayApp({ bus, dataSource, logger, settings, readinessChecks: gatewayReadinessChecks({ dataSource, bus }) });
}

beforeAll(async () => {
  pglite = await openEmbeddedPostgres();
  dataSource = createGatewayDataSource({ kind: 'embedded', pglite });
  await dataSource.initialize();
  await runMigrations(dataSource);
  bus = new InProcessBus();
  await bus.handle(CreateSession, 'sessions', (payload, ctx) => {
    received.push({ scope: payload.scope, ctx });
    const now = new Date().toISOString();
    return Promise.resolve({
      id: '01900000-0000-7000-8000-000000000001',
      tenant_id: payload.scope.tenant_id,
      owner_id: payload.scope.principal_id,
      parent_session_id: null,
      title: payload.body.title ?? null,
      status: 'active',
      metadata: {},
      route_policy: null,
      reply_targets: [],
      message_count: 0,
      created_at: now,
      updated_at: now,
      archived_at: null,
    } satisfies SessionView);
  });
  await bus.handle(GetSession, 'sessions', () => Promise.reject(new Error('must not be called for a malformed id')));
  const booted = await boot();
  app = booted.app;
  systemKey = booted.generatedSystemKey;
  await app.listen(0, '127.0.0.1');
  const address = app.getHttpServer().address();
  base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
}, 60_000);

afterAll(async () => {
  await app?.close();
  await bus?.close();
  await dataSource?.destroy();
  await pglite?.close();
});

async function call(method: string, path: string, key?: string, body?: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: (text && /json/.test(response.headers.get('content-type') ?? '') ? JSON.parse(text) : text) as Record<string, unknown> };
}

describe('createGatewayApp', () => {
  it('generates a system key on the first start only', async () => {
    expect(systemKey).toMatch(/^ryk_[a-z0-9]{12}_[A-Za-z0-9_-]{43}$/);
    const second = await boot();
    try {
      expect(second.generatedSystemKey).toBeUndefined();
    } finally {
      await second.app.close();
    }
  });

  it('serves health, the OpenAPI document and the docs page without a key', async () => {
    expect((await call('GET', '/healthz')).status).toBe(200);
    const ready = await call('GET', '/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body.checks).toEqual([
      { name: 'database', ok: true },
      { name: 'bus', ok: true },
    ]);

    const openapi = await call('GET', '/v1/openapi.json');
    expect(openapi.status).toBe(200);
    const paths = openapi.body.paths as Record<string, Record<string, { responses: Record<string, unknown>; parameters?: { name: string }[]; security?: unknown[] }>>;
    expect(Object.keys(paths)).toEqual(expect.arrayContaining(['/v1/sessions', '/v1/sessions/{id}', '/v1/sessions/{id}/archive', '/v1/sessions/{id}/messages', '/v1/tenants']));
    const create = paths['/v1/sessions'].post;
    expect(create.security).toEqual([{ bearer: [] }]);
    expect(create.parameters?.map((p) => p.name)).toContain('idempotency-key');
    expect(create.responses['429']).toEqual({ $ref: '#/components/responses/RateLimited' });
    expect(paths['/v1/sessions'].get.parameters?.map((p) => p.name)).toEqual(expect.arrayContaining(['limit', 'cursor', 'status', 'created_after']));
    expect(paths['/v1/sessions/{id}'].get.responses['404']).toEqual({ $ref: '#/components/responses/NotFound' });
    const components = openapi.body.components as { schemas: Record<string, unknown>; securitySchemes: Record<string, unknown> };
    expect(components.schemas.Problem).toMatchObject({ required: expect.arrayContaining(['type', 'title', 'status', 'code', 'request_id']) });
    expect(components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });

    const docs = await call('GET', '/docs');
    expect(docs.status).toBe(200);
    expect(docs.headers.get('content-type')).toMatch(/^text\/html/);
    const bundle = await fetch(`${base}/docs/swagger-ui-bundle.js`);
    expect(bundle.status).toBe(200);
    expect((await bundle.text()).length).toBeGreaterThan(100_000);
  });

  it('routes a session request to the bus with the caller’s scope and request id, and audits it', async () => {
    const tenant = await call('POST', '/v1/tenants', systemKey, { name: 'Acme' });
    expect(tenant.status).toBe(201);
    const admin = (tenant.body.api_key as { key: string }).key;
    const principalId = (tenant.body.principal as { id: string }).id;

    const created = await call('POST', '/v1/sessions', admin, { title: 'Plan' }, { 'x-request-id': 'create-req-1' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ title: 'Plan', owner_id: principalId });
    expect(received.at(-1)?.scope).toEqual({ tenant_id: (tenant.body.tenant as { id: string }).id, principal_id: principalId, role: 'admin' });
    expect(received.at(-1)?.ctx.headers['x-request-id']).toBe('create-req-1');

    // The system key manages tenants only.
    expect((await call('POST', '/v1/sessions', systemKey, {})).status).toBe(403);
    // A malformed id never reaches the service.
    expect((await call('GET', '/v1/sessions/not-a-uuid', admin)).body.code).toBe('not_found');

    // Recorded by the audit hook once the response has gone out.
    await expectEventually(async () => {
      const audit = await call('GET', '/v1/audit-events?action=session.create', admin);
      expect(audit.body.data).toEqual([
        expect.objectContaining({ action: 'session.create', target_type: 'session', target_id: created.body.id, outcome: 'success', request_id: 'create-req-1' }),
      ]);
    });
  });
});
