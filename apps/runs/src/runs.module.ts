import { Module, type DynamicModule } from '@nestjs/common';
import { BUS, MessagingModule, OUTBOX_RELAY_OPTIONS, OutboxRelay, TransactionalOutbox, type Bus, type OutboxRelayOptions } from '@runyard/messaging';
import { DataSource } from 'typeorm';
import { PlanStepsHandler } from './plan-steps/plan-steps.handler.js';
import { PlanStepsRepository } from './plan-steps/plan-steps.repository.js';
import { PlanStepsService } from './plan-steps/plan-steps.service.js';
import { RunEventsHandler } from './run-events/run-events.handler.js';
import { RunEventsRepository } from './run-events/run-events.repository.js';
import { RunEventsService } from './run-events/run-events.service.js';
import { RunReportsService } from './run-events/run-reports.service.js';
import { LeaseGuard } from './runs/lease-guard.js';
import { LeaseCheckHandler } from './runs/lease-check.handler.js';
import { LogAccessHandler } from './runs/log-access.handler.js';
import { RunSweeper } from './runs/run-sweeper.service.js';
import { LeasesService } from './runs/leases.service.js';
import { RunLifecycle } from './runs/run-lifecycle.js';
import { RUNS_SETTINGS, type RunsSettings } from './runs/runs-settings.js';
import { RunsHandler } from './runs/runs.handler.js';
import { RunsRepository } from './runs/runs.repository.js';
import { RunsService } from './runs/runs.service.js';
import { WorkersHandler } from './runs/workers.handler.js';
import { WaitsHandler } from './waits/waits.handler.js';
import { WaitsRepository } from './waits/waits.repository.js';
import { WaitsService } from './waits/waits.service.js';

/** Queue group shared by every replica of the runs service: each request goes to one of them. */
export const RUNS_QUEUE_GROUP = 'runs';

export interface RunsModuleDeps {
  bus: Bus;
  /** Initialised and migrated; owned (and closed) by the caller. */
  dataSource: DataSource;
  settings: RunsSettings;
}

/** The runs service (runs, plan steps, waits, run event history): its bus handlers, services, run sweeper and repositories, over the bus and data source it is given. */
@Module({})
export class RunsModule {
  static register(deps: RunsModuleDeps): DynamicModule {
    return {
      module: RunsModule,
      imports: [MessagingModule.forFeature({ queueGroup: RUNS_QUEUE_GROUP })],
      providers: [
        { provide: BUS, useValue: deps.bus },
        { provide: DataSource, useValue: deps.dataSource },
        { provide: RUNS_SETTINGS, useValue: { ...deps.settings } },
        // The runs outbox doubles as the runs' event history: published rows are kept that long.
        { provide: OUTBOX_RELAY_OPTIONS, useValue: { retentionMs: deps.settings.eventHistoryRetentionMs } satisfies OutboxRelayOptions },
        OutboxRelay,
        TransactionalOutbox,
        RunsRepository,
        RunLifecycle,
        RunsService,
        RunsHandler,
        LeaseGuard,
        LeasesService,
        WorkersHandler,
        LogAccessHandler,
        LeaseCheckHandler,
        RunSweeper,
        PlanStepsRepository,
        PlanStepsService,
        PlanStepsHandler,
        WaitsRepository,
        WaitsService,
        WaitsHandler,
        RunEventsRepository,
        RunEventsService,
        RunReportsService,
        RunEventsHandler,
      ],
    };
  }
}
