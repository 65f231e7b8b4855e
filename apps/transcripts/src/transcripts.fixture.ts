import type { INestApplicationContext } from '@nestjs/common';
import type { EventEnvelope } from '@runyard/contracts';
import { InProcessBus } from '@runyard/messaging';
import { openEmbeddedPostgres, runMigrations } from '@runyard/persistence';
import { createRunsApp, createRunsDataSource } from '@runyard/runs';
import { createLogger } from '@runyard/runtime';
import { createSessionsApp, createSessionsDataSource } from '@runyard/sessions';
import { recordEvents } from '@runyard/testing';
import type { DataSource } from 'typeorm';
import type { LogsSettings } from './logs/logs-settings.js';
import type { TracesSettings } from './traces/traces-settings.js';
import { createTranscriptsApp, createTranscriptsDataSource } from './transcripts.app.js';

export interface TranscriptsFixture {
  bus: InProcessBus;
  /** The transcripts schema's data source. */
  dataSource: DataSource;
  /** Every transcripts event published so far, in order. */
  events: EventEnvelope[];
  close(): Promise<void>;
}

/** Short grace and quick sweeps, so closed logs show up within a test's polling. */
export const FIXTURE_LOG_SETTINGS: Partial<LogsSettings> = { closeGraceMs: 200, closeSweepIntervalMs: 50 };

/**
 * The transcripts service on standalone pieces (embedded Postgres + in-process bus) next to the real
 * runs and sessions services on the same database (a log or a trace opens on the runs service's word,
 * a log closes on its runs' status changes), with a consumer that records every transcripts event.
 */
export async function startTranscriptsFixture(logs: Partial<LogsSettings> = {}, traces: Partial<TracesSettings> = {}): Promise<TranscriptsFixture> {
  const pglite = await openEmbeddedPostgres();
  const sessionsDataSource = createSessionsDataSource({ kind: 'embedded', pglite });
  await runMigrations(sessionsDataSource);
  const runsDataSource = createRunsDataSource({ kind: 'embedded', pglite });
  await runMigrations(runsDataSource);
  const dataSource = createTranscriptsDataSource({ kind: 'embedded', pglite });
  await runMigrations(dataSource);
  const bus = new InProcessBus();
  const logger = createLogger('transcripts-spec', 'silent');
  const apps: INestApplicationContext[] = [
    await createSessionsApp({ bus, dataSource: sessionsDataSource, logger }),
    await createRunsApp({ bus, dataSource: runsDataSource, logger }),
    await createTranscriptsApp({ bus, dataSource, logger }, { logs: { ...FIXTURE_LOG_SETTINGS, ...logs }, traces }),
  ];
  const { events, stop: stopRecording } = await recordEvents<EventEnvelope>(bus, 'transcripts-spec', 'transcripts.evt.>');
  return {
    bus,
    dataSource,
    events,
    async close() {
      await stopRecording();
      for (const app of apps.reverse()) await app.close();
      await bus.close();
      for (const ds of [dataSource, runsDataSource, sessionsDataSource]) await ds.destroy();
      await pglite.close();
    },
  };
}
