import { Module, type DynamicModule } from '@nestjs/common';
import { BUS, MessagingModule, OutboxRelay, TransactionalOutbox, type Bus } from '@runyard/messaging';
import type { Redis } from 'ioredis';
import { DataSource } from 'typeorm';
import { LogCloser } from './logs/log-closer.service.js';
import { LogIngestConsumer } from './logs/log-ingest.consumer.js';
import { LOGS_SETTINGS, type LogsSettings } from './logs/logs-settings.js';
import { LogsHandler } from './logs/logs.handler.js';
import { LogsRepository } from './logs/logs.repository.js';
import { LogsService } from './logs/logs.service.js';
import { MemoryTenantLogBudget } from './logs/memory-tenant-log-budget.js';
import { RedisTenantLogBudget } from './logs/redis-tenant-log-budget.js';
import { RunEndingsConsumer } from './logs/run-endings.consumer.js';
import { TenantLogBudget } from './logs/tenant-log-budget.js';
import { DEFAULT_SEGMENTS_SETTINGS, SEGMENTS_SETTINGS, type SegmentsSettings } from './segments/segments-settings.js';
import { SegmentsHandler } from './segments/segments.handler.js';
import { SegmentsRepository } from './segments/segments.repository.js';
import { SegmentsService } from './segments/segments.service.js';
import { DEFAULT_TRACES_SETTINGS, TRACES_SETTINGS, type TracesSettings } from './traces/traces-settings.js';
import { TracesHandler } from './traces/traces.handler.js';
import { TracesRepository } from './traces/traces.repository.js';
import { TracesService } from './traces/traces.service.js';

/** Queue group shared by every replica of the transcripts service: each request goes to one of them. */
export const TRANSCRIPTS_QUEUE_GROUP = 'transcripts';

export interface TranscriptsSettings {
  logs: LogsSettings;
  /** Defaults: DEFAULT_TRACES_SETTINGS. */
  traces?: TracesSettings;
  /** Defaults: DEFAULT_SEGMENTS_SETTINGS. */
  segments?: SegmentsSettings;
}

export interface TranscriptsModuleDeps {
  bus: Bus;
  /** Initialised and migrated; owned (and closed) by the caller. */
  dataSource: DataSource;
  settings: TranscriptsSettings;
  /** Distributed mode: the tenant log budget is shared there by every replica. Absent: in memory (standalone). */
  redis?: Redis;
}

/**
 * The transcripts service: one folder per feature (logs now; transcript segments and trace spans
 * next), each with its handler, service and repository, over the bus and data source it is given.
 */
@Module({})
export class TranscriptsModule {
  static register(deps: TranscriptsModuleDeps): DynamicModule {
    return {
      module: TranscriptsModule,
      imports: [MessagingModule.forFeature({ queueGroup: TRANSCRIPTS_QUEUE_GROUP })],
      providers: [
        { provide: BUS, useValue: deps.bus },
        { provide: DataSource, useValue: deps.dataSource },
        { provide: LOGS_SETTINGS, useValue: { ...deps.settings.logs } },
        OutboxRelay,
        TransactionalOutbox,
        LogsRepository,
        {
          provide: TenantLogBudget,
          useFactory: (): TenantLogBudget => {
            const bytesPerMinute = deps.settings.logs.tenantBytesPerMinute;
            return deps.redis ? new RedisTenantLogBudget({ redis: deps.redis, bytesPerMinute }) : new MemoryTenantLogBudget({ bytesPerMinute });
          },
        },
        LogsService,
        LogsHandler,
        LogIngestConsumer,
        RunEndingsConsumer,
        LogCloser,
        { provide: TRACES_SETTINGS, useValue: { ...(deps.settings.traces ?? DEFAULT_TRACES_SETTINGS) } },
        TracesRepository,
        TracesService,
        TracesHandler,
        { provide: SEGMENTS_SETTINGS, useValue: { ...(deps.settings.segments ?? DEFAULT_SEGMENTS_SETTINGS) } },
        SegmentsRepository,
        SegmentsService,
        SegmentsHandler,
      ],
    };
  }
}
