import type { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Catch, Controller, Get, Global, HttpException, Module, Post, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { DomainError, ErrorCode } from '@runyard/contracts';
import { createServiceDataSource, openEmbeddedPostgres, runMigrations } from '@runyard/persistence';
import { expectEventually, uniqueName } from '@runyard/testing';
import type { FastifyReply } from 'fastify';
import { DataSource } from 'typeorm';
import { registerAuditHook } from '../audit/audit.hook.js';
import { AuditService } from '../audit/audit.service.js';
import { gatewayEntities } from '../gateway-entities.js';
import { gatewayMigrations } from '../migrations/index.js';
import { Public } from './auth.decorators.js';
import { AuthGuard } from './auth.guard.js';
import { GATEWAY_REDIS } from '../edge/tokens.js';
import { AUTH_FAILURES_PER_WINDOW } from './auth-failure-limiter.js';
import { IdentityModule } from './identity.module.js';
import { SystemKeyService } from './system-key.service.js';

/**
 * Guard, decorators, interceptor and audit hook together in a real Nest + Fastify app (the gateway's
 * own app assembly, error filter included, is tested by its owner; a minimal filter stands in here).
 */
const STATUS: Partial<Record<ErrorCode, number>> = {
  [ErrorCode.UNAUTHENTICATED]: 401,
  [ErrorCode.FORBIDDEN]: 403,
  [ErrorCode.NOT_FOUND]: 404,
  [ErrorCode.VALIDATION_FAILED]: 400,
  [ErrorCode.RATE_LIMITED]: 429,
};

@Catch()
class MinimalProblemFilter implements ExceptionFilter {
  catch(error: unknown, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    if (error instanceof DomainError) void reply.status(STATUS[error.code] ?? 500).send({ code: error.code });
    else if (error instanceof HttpException) void reply.status(error.getStatus()).send({ code: 'http' });
    else void reply.status(500).send({ code: 'internal_error' });
  }
}

@Controller('probe')
class ProbeController {
  @Public()
  @Post('public')
  open(): { ok: true } {
    return { ok: true };
  }

  @Get('private')
  closed(): { ok: true } {
    return { ok: true };
  }
}

let pglite: PGlite;
let dataSource: DataSource;
let app: NestFastifyApplication;
let baseUrl: string;
let systemKey: string;

beforeAll(async () => {
  pglite = await openEmbeddedPostgres();
  dataSource = createServiceDataSource({ schema: uniqueName('gateway'), target: { kind: 'embedded', pglite }, entities: gatewayEntities, migrations: gatewayMigrations });
  await runMigrations(dataSource);

  @Global()
  @Module({
    providers: [
      { provide: DataSource, useValue: dataSource },
      { provide: GATEWAY_REDIS, useValue: null },
    ],
    exports: [DataSource, GATEWAY_REDIS],
  })
  class DatabaseModule {}
  @Module({
    imports: [DatabaseModule, IdentityModule],
    controllers: [ProbeController],
    providers: [
      { provide: APP_GUARD, useClass: AuthGuard },
      { provide: APP_FILTER, useClass: MinimalProblemFilter },
    ],
  })
  class AppModule {}

  app = await NestFactory.create<NestFastifyApplication>(AppModule, new FastifyAdapter(), { logger: false });
  registerAuditHook(app.getHttpAdapter().getInstance(), app.get(AuditService));
  await app.init();
  await app.listen(0, '127.0.0.1');
  baseUrl = await app.getUrl();
  systemKey = (await app.get(SystemKeyService).ensureSystemKey()).generated ?? '';
}, 60_000);

afterAll(async () => {
  await app.close();
  await dataSource.destroy();
  await pglite.close();
});

async function call(method: string, path: string, key?: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

interface AuditRow {
  tenant_id: string | null;
  actor_id: string | null;
  actor_kind: string;
  action: string;
  target_type: string | null;
  target_id: string | null;
  outcome: string;
  status_code: number;
  reason: string | null;
  metadata: Record<string, unknown> | null;
}

async function auditRows(where: string, params: unknown[]): Promise<AuditRow[]> {
  return dataSource.query<AuditRow[]>(`SELECT * FROM audit_events WHERE ${where} ORDER BY created_at, id`, params);
}

describe('identity over HTTP', () => {
  it('audits a tenant admin flow with @Audited actions, targets and actors', async () => {
    const tenant = await call('POST', '/v1/tenants', systemKey, { name: 'Acme' });
    expect(tenant.status).toBe(201);
    const adminKey = (tenant.body.api_key as { key: string }).key;
    const tenantId = (tenant.body.tenant as { id: string }).id;
    const adminId = (tenant.body.principal as { id: string }).id;

    const created = await call('POST', '/v1/api-keys', adminKey, { name: 'ci' });
    expect(created.status).toBe(201);
    const revoked = await call('DELETE', `/v1/api-keys/${String(created.body.id)}`, adminKey);
    expect(revoked.status).toBe(200);
    expect(revoked.body.revoked_at).not.toBeNull();
    // The revoked key is refused straight away.
    expect((await call('GET', '/v1/me', String(created.body.key))).status).toBe(401);

    await expectEventually(async () => {
      const rows = await auditRows(`tenant_id = $1 AND action LIKE 'api_key.%'`, [tenantId]);
      expect(rows).toMatchObject([
        { action: 'api_key.create', target_type: 'api_key', target_id: created.body.id, actor_id: adminId, actor_kind: 'principal', outcome: 'success', status_code: 201 },
        { action: 'api_key.revoke', target_type: 'api_key', target_id: created.body.id, actor_id: adminId, outcome: 'success', status_code: 200 },
      ]);
    });
    await expectEventually(async () => {
      const rows = await auditRows(`action = 'tenant.create' AND target_id = $1`, [tenantId]);
      expect(rows).toMatchObject([{ tenant_id: null, actor_kind: 'system', target_type: 'tenant', status_code: 201 }]);
    });
  });

  it('records a failed authentication once, as auth.failed, with at most the visible prefix', async () => {
    const presented = `ryk_zzzzzzzzzzzz_${'s'.repeat(43)}`;
    const response = await call('POST', '/v1/principals', presented, { name: 'x', kind: 'user', role: 'member' });
    expect(response.status).toBe(401);
    expect((await call('GET', '/probe/private')).status).toBe(401);

    const rows = await expectEventually(async () => {
      const found = await auditRows(`metadata->>'api_key_prefix' = $1`, ['ryk_zzzzzzzzzzzz']);
      expect(found).toHaveLength(1);
      return found;
    });
    expect(rows[0]).toMatchObject({ action: 'auth.failed', outcome: 'failure', status_code: 401, reason: 'unknown_key', actor_id: null, actor_kind: 'anonymous' });
    expect(JSON.stringify(rows)).not.toContain('s'.repeat(43));
    // The audit hook did not add a second row for the same 401.
    expect(await auditRows(`action LIKE 'POST %' AND status_code = 401`, [])).toEqual([]);
  });

  it('records refused mutating requests that never reached a handler under "<METHOD> <route>"', async () => {
    const tenant = await call('POST', '/v1/tenants', systemKey, { name: 'Beta' });
    const adminKey = (tenant.body.api_key as { key: string }).key;
    const tenantId = (tenant.body.tenant as { id: string }).id;
    const member = await call('POST', '/v1/principals', adminKey, { name: 'm', kind: 'user', role: 'member' });
    const memberKey = await call('POST', '/v1/api-keys', adminKey, { name: 'm', principal_id: member.body.id });

    const refused = await call('POST', '/v1/principals', String(memberKey.body.key), { name: 'x', kind: 'user', role: 'admin' });
    expect(refused.status).toBe(403);
    expect((await call('POST', '/v1/tenants', adminKey, { name: 'nope' })).status).toBe(403);
    expect((await call('GET', '/v1/principals', String(memberKey.body.key))).status).toBe(403);

    await expectEventually(async () => {
      const rows = await auditRows(`tenant_id = $1 AND outcome = 'failure'`, [tenantId]);
      expect(rows).toMatchObject([
        { action: 'POST /v1/principals', actor_id: member.body.id, status_code: 403 },
        { action: 'POST /v1/tenants', status_code: 403 },
      ]);
    });
  });

  it('lets public routes through without a key and audits nothing for reads', async () => {
    expect((await call('POST', '/probe/public')).status).toBe(201);
    await expectEventually(async () => expect(await auditRows(`action = 'POST /probe/public'`, [])).toMatchObject([{ actor_kind: 'anonymous', outcome: 'success' }]));
    expect(await auditRows(`action LIKE 'GET %'`, [])).toEqual([]);
  });

  it('answers /v1/me for the system key and for tenant keys', async () => {
    const me = await call('GET', '/v1/me', systemKey);
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ tenant: null, role: 'system', principal: { kind: 'system' } });

    const tenant = await call('POST', '/v1/tenants', systemKey, { name: 'Gamma' });
    const apiKey = tenant.body.api_key as { id: string; prefix: string; key: string };
    const tenantMe = await call('GET', '/v1/me', apiKey.key);
    expect(tenantMe.status).toBe(200);
    expect(tenantMe.body).toEqual({ principal: tenant.body.principal, tenant: tenant.body.tenant, role: 'admin', api_key: { id: apiKey.id, prefix: apiKey.prefix } });
  });

  // Last: it leaves this address blocked for the rest of the window.
  it('refuses an address unheard once it has failed authentication too often, even with a valid key', async () => {
    // Earlier tests in this file already spent part of this address's budget.
    let unauthorised = 0;
    let last = await call('GET', '/v1/me', 'ryk_guess_nope');
    while (last.status === 401 && unauthorised <= AUTH_FAILURES_PER_WINDOW) {
      unauthorised += 1;
      last = await call('GET', '/v1/me', `ryk_guess${unauthorised}_nope`);
    }
    expect(last).toMatchObject({ status: 429, body: { code: 'rate_limited' } });
    expect(unauthorised).toBeLessThanOrEqual(AUTH_FAILURES_PER_WINDOW);
    const failuresRecorded = (await auditRows(`action = 'auth.failed'`, [])).length;
    // Refused before any lookup, even with a valid key, and nothing more is audited.
    expect((await call('GET', '/v1/me', systemKey)).status).toBe(429);
    expect((await call('GET', '/v1/me', 'ryk_one_more_guess')).status).toBe(429);
    expect((await auditRows(`action = 'auth.failed'`, [])).length).toBe(failuresRecorded);
  });
});
