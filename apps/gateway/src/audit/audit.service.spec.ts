import type { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DomainError, ErrorCode } from '@runyard/contracts';
import { createServiceDataSource, openEmbeddedPostgres, runMigrations } from '@runyard/persistence';
import { expectEventually, uniqueName } from '@runyard/testing';
import { v7 as uuidv7 } from 'uuid';
import type { DataSource } from 'typeorm';
import { gatewayEntities } from '../gateway-entities.js';
import type { AuthenticatedCaller } from '../identity/caller.js';
import { systemClock, type Clock } from '../identity/clock.js';
import { gatewayMigrations } from '../migrations/index.js';
import type { AuditEventEntity } from './audit-event.entity.js';
import { AuditEventsRepository } from './audit-events.repository.js';
import { AuditService, type AuditRecord } from './audit.service.js';

/** Counts the INSERTs, and can be told to fail them, around the real repository. */
class ObservedRepository extends AuditEventsRepository {
  batches: number[] = [];
  failNext: Error | undefined;
  /** While set, INSERTs wait for it: an INSERT held in flight. */
  gate: Promise<void> | undefined;
  override async insertBatch(rows: AuditEventEntity[]): Promise<void> {
    this.batches.push(rows.length);
    const failure = this.failNext;
    this.failNext = undefined;
    if (failure) throw failure;
    await this.gate;
    await super.insertBatch(rows);
  }
}

class SteppingClock implements Clock {
  private at = Date.parse('2026-03-01T10:00:00.000Z');
  now(): Date {
    this.at += 1000;
    return new Date(this.at);
  }
}

let pglite: PGlite;
let dataSource: DataSource;

beforeAll(async () => {
  pglite = await openEmbeddedPostgres();
  dataSource = createServiceDataSource({ schema: uniqueName('gateway'), target: { kind: 'embedded', pglite }, entities: gatewayEntities, migrations: gatewayMigrations });
  await runMigrations(dataSource);
}, 60_000);

afterAll(async () => {
  await dataSource.destroy();
  await pglite.close();
});

function tenantCaller(role: 'admin' | 'member', tenantId = uuidv7()): AuthenticatedCaller {
  return { kind: 'tenant', tenantId, principalId: uuidv7(), role, apiKeyId: uuidv7(), apiKeyPrefix: 'ryk_aaaaaaaaaaaa' };
}

function event(overrides: Partial<AuditRecord> = {}): AuditRecord {
  return {
    tenantId: null,
    actorId: null,
    actorKind: 'anonymous',
    action: 'test.event',
    targetType: null,
    targetId: null,
    outcome: 'success',
    requestId: uniqueName('req'),
    ...overrides,
  };
}

async function rowsWithRequestId(requestId: string): Promise<number> {
  const [row] = await dataSource.query<Array<{ count: string }>>(`SELECT count(*) FROM audit_events WHERE request_id = $1`, [requestId]);
  return Number(row?.count);
}

describe('AuditService.record (group commit)', () => {
  it('stores N concurrent records with one INSERT and resolves each only once its row is committed', async () => {
    const repository = new ObservedRepository(dataSource);
    const audit = new AuditService(repository, systemClock);
    const events = Array.from({ length: 60 }, (_, i) => event({ action: `concurrent.${i}` }));

    const visibleAtResolution = await Promise.all(
      events.map(async (e) => {
        await audit.record(e);
        return rowsWithRequestId(e.requestId ?? '');
      }),
    );

    expect(visibleAtResolution).toEqual(events.map(() => 1));
    expect(repository.batches).toEqual([60]);
  });

  it('keeps batching while an INSERT is in flight: later callers share the next one', async () => {
    const repository = new ObservedRepository(dataSource);
    let release = (): void => undefined;
    repository.gate = new Promise<void>((resolve) => (release = resolve));
    const audit = new AuditService(repository, systemClock);
    const first = audit.record(event());
    await expectEventually(() => expect(repository.batches).toEqual([1]));

    const later = Array.from({ length: 25 }, () => audit.record(event()));
    release();
    await Promise.all([first, ...later]);
    expect(repository.batches).toEqual([1, 25]);
  });

  it('rejects every caller of a failed batch, and recovers for the next', async () => {
    const repository = new ObservedRepository(dataSource);
    const audit = new AuditService(repository, systemClock);
    repository.failNext = new Error('database unavailable');
    const failed = await Promise.allSettled([audit.record(event()), audit.record(event())]);
    expect(failed.map((result) => result.status)).toEqual(['rejected', 'rejected']);

    const next = event();
    await audit.record(next);
    expect(await rowsWithRequestId(next.requestId ?? '')).toBe(1);
  });

  it('refuses a malformed record alone, without failing the batch it would have joined', async () => {
    const audit = new AuditService(new ObservedRepository(dataSource), systemClock);
    const good = event();
    const results = await Promise.allSettled([audit.record(event({ actorId: 'not-a-uuid' })), audit.record(good)]);
    expect(results.map((result) => result.status)).toEqual(['rejected', 'fulfilled']);
    expect(await rowsWithRequestId(good.requestId ?? '')).toBe(1);
  });

  it('stores text and metadata that contain NUL characters (which Postgres refuses) without them', async () => {
    const audit = new AuditService(new AuditEventsRepository(dataSource), systemClock);
    const tenant = tenantCaller('admin');
    await audit.record(event({ tenantId: tenant.tenantId, reason: 'bad\u0000byte', metadata: { note: 'a\u0000b', nested: { n: 1 } } }));
    const page = await audit.list(tenant, {});
    expect(page.data[0]).toMatchObject({ reason: 'badbyte', metadata: { note: 'ab', nested: { n: 1 } } });
  });

  it('drains accepted records on shutdown', async () => {
    const audit = new AuditService(new AuditEventsRepository(dataSource), systemClock);
    const e = event();
    const pending = audit.record(e);
    await audit.onApplicationShutdown();
    expect(await rowsWithRequestId(e.requestId ?? '')).toBe(1);
    await pending;
  });
});

describe('AuditService.list', () => {
  const admin = tenantCaller('admin');
  const otherTenantAdmin = tenantCaller('admin');
  const actor = uuidv7();
  let audit: AuditService;
  let recorded: Array<{ action: string; createdAt: string }>;

  beforeAll(async () => {
    audit = new AuditService(new AuditEventsRepository(dataSource), new SteppingClock());
    const base = { tenantId: admin.tenantId, actorKind: 'principal' as const };
    // One after the other, so each gets the next clock tick (1 s apart).
    await audit.record(event({ ...base, actorId: actor, action: 'session.create', targetType: 'session', targetId: 's1', outcome: 'success', statusCode: 201 }));
    await audit.record(event({ ...base, actorId: actor, action: 'session.update', targetType: 'session', targetId: 's1', outcome: 'failure', statusCode: 409 }));
    await audit.record(event({ ...base, actorId: uuidv7(), action: 'api_key.revoke', targetType: 'api_key', targetId: 'k1', outcome: 'success', statusCode: 200 }));
    await audit.record(event({ ...base, actorId: null, actorKind: 'anonymous', action: 'auth.failed', outcome: 'failure', statusCode: 401 }));
    await audit.record(event({ ...base, actorId: actor, action: 'session.create', targetType: 'session', targetId: 's2', outcome: 'success', statusCode: 201 }));
    await audit.record(event({ tenantId: otherTenantAdmin.tenantId, actorId: uuidv7(), actorKind: 'principal', action: 'session.create', targetType: 'session', targetId: 's1' }));
    await audit.record(event({ tenantId: null, action: 'tenant.create', actorKind: 'system' }));
    const all = await audit.list(admin, { limit: 200 });
    recorded = all.data.map((e) => ({ action: e.action, createdAt: e.created_at }));
  });

  it("returns only the caller's tenant, newest first", async () => {
    expect(recorded.map((e) => e.action)).toEqual(['session.create', 'auth.failed', 'api_key.revoke', 'session.update', 'session.create']);
    const other = await audit.list(otherTenantAdmin, {});
    expect(other.data).toHaveLength(1);
    expect(other.data[0]).toMatchObject({ tenant_id: otherTenantAdmin.tenantId, action: 'session.create' });
  });

  it('pages with a cursor, without gaps or repeats', async () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await audit.list(admin, { limit: 2, cursor });
      seen.push(...page.data.map((e) => e.created_at));
      cursor = page.next_cursor ?? undefined;
      pages += 1;
    } while (cursor !== undefined);
    expect(pages).toBe(3);
    expect(seen).toEqual(recorded.map((e) => e.createdAt));
  });

  it('filters by action, actor, target, outcome and time window', async () => {
    const actions = async (query: Parameters<AuditService['list']>[1]): Promise<string[]> => (await audit.list(admin, query)).data.map((e) => `${e.action}:${e.target_id ?? ''}`);
    expect(await actions({ action: 'session.create' })).toEqual(['session.create:s2', 'session.create:s1']);
    expect(await actions({ actor_id: actor })).toEqual(['session.create:s2', 'session.update:s1', 'session.create:s1']);
    expect(await actions({ target_type: 'session', target_id: 's1' })).toEqual(['session.update:s1', 'session.create:s1']);
    expect(await actions({ outcome: 'failure' })).toEqual(['auth.failed:', 'session.update:s1']);
    const [newest, , third, fourth] = recorded;
    expect(await actions({ created_after: fourth?.createdAt, created_before: newest?.createdAt })).toEqual(['auth.failed:', 'api_key.revoke:k1']);
    expect(await actions({ created_after: third?.createdAt, action: 'session.create' })).toEqual(['session.create:s2']);
  });

  it('is for tenant admins only', async () => {
    for (const caller of [tenantCaller('member', admin.tenantId ?? undefined), { ...tenantCaller('admin'), kind: 'system' as const, tenantId: null, role: 'system' as const }]) {
      const error = await audit.list(caller, {}).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(DomainError);
      expect((error as DomainError).code).toBe(ErrorCode.FORBIDDEN);
    }
  });

  it('rejects a cursor it did not issue', async () => {
    const error = await audit.list(admin, { cursor: 'eyJ4IjoxfQ' }).catch((caught: unknown) => caught);
    expect((error as DomainError).code).toBe(ErrorCode.INVALID_CURSOR);
  });
});
