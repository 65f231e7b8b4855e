import type { INestApplicationContext } from '@nestjs/common';
import { DomainError, type CallerScope, type EventEnvelope } from '@runyard/contracts';
import { InProcessBus } from '@runyard/messaging';
import { openEmbeddedPostgres, runMigrations } from '@runyard/persistence';
import { createLogger } from '@runyard/runtime';
import { createSessionsApp, createSessionsDataSource } from '@runyard/sessions';
import type { DataSource } from 'typeorm';
import { v7 as uuidv7 } from 'uuid';
import { createRunsApp, createRunsDataSource } from './runs.app.js';
import { recordEvents } from '@runyard/testing';

export interface RunsFixture {
  bus: InProcessBus;
  /** The runs schema's data source. */
  dataSource: DataSource;
  /** Every runs event published so far, in order. */
  events: EventEnvelope[];
  close(): Promise<void>;
}

/** Sweeps often, so lease and TTL expiry show up within a test's polling. */
export const FIXTURE_SWEEP_INTERVAL_MS = 50;
/** Long enough for tests to see `cancelling`, short enough to watch the sweeper end it. */
export const FIXTURE_CANCEL_GRACE_MS = 1000;

/**
 * The runs service on standalone pieces (embedded Postgres + in-process bus) next to the real
 * sessions service on the same database — run creation asks it for the session — to be called over
 * the bus as the gateway and workers do, with a consumer that records every runs event.
 */
export async function startRunsFixture(): Promise<RunsFixture> {
  const pglite = await openEmbeddedPostgres();
  const sessionsDataSource = createSessionsDataSource({ kind: 'embedded', pglite });
  await runMigrations(sessionsDataSource);
  const dataSource = createRunsDataSource({ kind: 'embedded', pglite });
  await runMigrations(dataSource);
  const bus = new InProcessBus();
  const logger = createLogger('runs-spec', 'silent');
  const sessions: INestApplicationContext = await createSessionsApp({ bus, dataSource: sessionsDataSource, logger });
  const runs: INestApplicationContext = await createRunsApp(
    { bus, dataSource, logger },
    { settings: { defaultExecutor: 'echo', leaseSweepIntervalMs: FIXTURE_SWEEP_INTERVAL_MS, cancelGraceMs: FIXTURE_CANCEL_GRACE_MS } },
  );
  const { events, stop: stopRecording } = await recordEvents<EventEnvelope>(bus, 'runs-spec', 'runs.evt.>');
  return {
    bus,
    dataSource,
    events,
    async close() {
      await stopRecording();
      await runs.close();
      await sessions.close();
      await bus.close();
      await dataSource.destroy();
      await sessionsDataSource.destroy();
      await pglite.close();
    },
  };
}

/** A fresh tenant: its admin, and members by principal id. Each test works in tenants of its own. */
export function newTenant(): { admin: CallerScope; member: (principalId?: string) => CallerScope } {
  const tenantId = uuidv7();
  return {
    admin: { tenant_id: tenantId, principal_id: uuidv7(), role: 'admin' },
    member: (principalId = uuidv7()) => ({ tenant_id: tenantId, principal_id: principalId, role: 'member' }),
  };
}

/** An executor name of the test's own, so its claims never take another test's runs. */
export function uniqueExecutor(): string {
  return `x-${uuidv7()}`;
}

/** The DomainError a call fails with (anything else fails the test). */
export async function failure(promise: Promise<unknown>): Promise<DomainError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof DomainError) return error;
    throw error;
  }
  throw new Error('expected a DomainError, got a result');
}
