import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServiceDataSource, runMigrations } from '@runyard/persistence';
import { createTestDatabase, uniqueName } from '@runyard/testing';
import pg from 'pg';
import type { DataSource } from 'typeorm';
import { v7 as uuidv7 } from 'uuid';
import { GATEWAY_SCHEMA, gatewayEntities } from '../gateway-entities.js';
import type { AuthenticatedCaller } from '../identity/caller.js';
import { systemClock } from '../identity/clock.js';
import { gatewayMigrations } from '../migrations/index.js';
import type { AuditEventEntity } from './audit-event.entity.js';
import { AuditEventsRepository } from './audit-events.repository.js';
import { AuditService } from './audit.service.js';

class CountingRepository extends AuditEventsRepository {
  inserts = 0;
  override async insertBatch(rows: AuditEventEntity[]): Promise<void> {
    this.inserts += 1;
    await super.insertBatch(rows);
  }
}

let database: { url: string; drop(): Promise<void> };
let dataSource: DataSource;
/** Separate connections: they see a row only once it is committed. */
let observer: pg.Pool;

beforeAll(async () => {
  database = await createTestDatabase('gateway_audit');
  dataSource = createServiceDataSource({ schema: GATEWAY_SCHEMA, target: { kind: 'postgres', url: database.url }, entities: gatewayEntities, migrations: gatewayMigrations });
  await runMigrations(dataSource);
  observer = new pg.Pool({ connectionString: database.url, max: 4 });
  // A connection still closing when the database is dropped at teardown is cut by the server; pg
  // reports that on the pool, which would otherwise throw it as an unhandled error.
  observer.on('error', () => undefined);
}, 60_000);

afterAll(async () => {
  await observer.end();
  await dataSource.destroy();
  await database.drop();
});

describe('audit on PostgreSQL', () => {
  it('group-commits concurrent records; each caller resolves only after its row is visible to others', async () => {
    const repository = new CountingRepository(dataSource);
    const audit = new AuditService(repository, systemClock);
    const tenantId = uuidv7();
    const requestIds = Array.from({ length: 300 }, () => uniqueName('req'));

    const visible = await Promise.all(
      requestIds.map(async (requestId, i) => {
        // Spread the arrivals over several ticks, as concurrent HTTP requests would arrive.
        if (i % 50 === 0) await new Promise<void>((resolve) => setImmediate(resolve));
        await audit.record({ tenantId, actorId: null, actorKind: 'anonymous', action: 'load.test', targetType: null, targetId: null, outcome: 'success', requestId });
        const { rows } = await observer.query<{ count: string }>(`SELECT count(*) FROM ${GATEWAY_SCHEMA}.audit_events WHERE request_id = $1`, [requestId]);
        return rows[0]?.count;
      }),
    );

    expect(visible.every((count) => count === '1')).toBe(true);
    const { rows } = await observer.query<{ count: string }>(`SELECT count(*) FROM ${GATEWAY_SCHEMA}.audit_events WHERE tenant_id = $1`, [tenantId]);
    expect(rows[0]?.count).toBe('300');
    expect(repository.inserts).toBeLessThan(300);
  });

  it('lists with filters and keyset pages on real PostgreSQL timestamps', async () => {
    const audit = new AuditService(new AuditEventsRepository(dataSource), systemClock);
    const admin: AuthenticatedCaller = { kind: 'tenant', tenantId: uuidv7(), principalId: uuidv7(), role: 'admin', apiKeyId: uuidv7(), apiKeyPrefix: 'ryk_bbbbbbbbbbbb' };
    for (let i = 0; i < 7; i += 1) {
      await audit.record({
        tenantId: admin.tenantId,
        actorId: admin.principalId,
        actorKind: 'principal',
        action: i % 2 === 0 ? 'session.create' : 'session.archive',
        targetType: 'session',
        targetId: `s${i}`,
        outcome: i === 3 ? 'failure' : 'success',
        requestId: uniqueName('req'),
        metadata: { i },
      });
    }

    const targets: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await audit.list(admin, { limit: 3, cursor, action: 'session.create' });
      targets.push(...page.data.map((e) => e.target_id ?? ''));
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
    expect(targets).toEqual(['s6', 's4', 's2', 's0']);

    const failures = await audit.list(admin, { outcome: 'failure' });
    expect(failures.data).toMatchObject([{ target_id: 's3', metadata: { i: 3 }, actor_id: admin.principalId }]);
  });
});
