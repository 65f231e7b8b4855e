import type { INestApplicationContext } from '@nestjs/common';
import type { EventEnvelope } from '@runyard/contracts';
import { InProcessBus } from '@runyard/messaging';
import { openEmbeddedPostgres, runMigrations } from '@runyard/persistence';
import { createLogger } from '@runyard/runtime';
import type { DataSource } from 'typeorm';
import { createSessionsApp, createSessionsDataSource } from './sessions.app.js';
import { recordEvents } from '@runyard/testing';

export interface SessionsFixture {
  bus: InProcessBus;
  dataSource: DataSource;
  /** Every sessions event published so far, in order. */
  events: EventEnvelope[];
  close(): Promise<void>;
}

/**
 * The sessions service on standalone pieces (embedded Postgres + in-process bus), to be called over
 * the bus as the gateway does, with a consumer that records every event it publishes.
 */
export async function startSessionsFixture(): Promise<SessionsFixture> {
  const pglite = await openEmbeddedPostgres();
  const dataSource = createSessionsDataSource({ kind: 'embedded', pglite });
  await dataSource.initialize();
  await runMigrations(dataSource);
  const bus = new InProcessBus();
  const app: INestApplicationContext = await createSessionsApp({ bus, dataSource, logger: createLogger('sessions-spec', 'silent') });
  const { events, stop: stopRecording } = await recordEvents<EventEnvelope>(bus, 'sessions-spec', 'sessions.evt.>');
  return {
    bus,
    dataSource,
    events,
    async close() {
      await stopRecording();
      await app.close();
      await bus.close();
      await dataSource.destroy();
      await pglite.close();
    },
  };
}
