import { type BeforeApplicationShutdown, Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { RUN_STATUSES, RunStatusChanged, TERMINAL_RUN_STATUSES, type RunStatus } from '@runyard/contracts';
import { BUS, validatePayload, type Bus, type DeliveredEvent, type Registration } from '@runyard/messaging';
import { IsIn, IsISO8601, IsOptional, IsUUID } from 'class-validator';
import { LOGS_SETTINGS, type LogsSettings } from './logs-settings.js';
import { LogsRepository } from './logs.repository.js';

/** Durable consumer name: one per purpose, shared by every replica (each event goes to one of them). */
export const RUN_ENDINGS_DURABLE = 'transcripts-run-endings';

/** What this consumer reads of a status change (picked out of the envelope and its run, then validated). */
class RunEnding {
  @IsUUID()
  tenant_id!: string;

  @IsUUID()
  run_id!: string;

  @IsUUID()
  owner_id!: string;

  @IsOptional()
  @IsUUID()
  session_id?: string;

  @IsIn(RUN_STATUSES)
  to!: RunStatus;

  @IsOptional()
  @IsISO8601({ strict: true })
  finished_at?: string;
}

function pick(event: DeliveredEvent): Record<string, unknown> {
  const data = (event.envelope.data ?? {}) as { to?: unknown; run?: { id?: unknown; owner_id?: unknown; session_id?: unknown; finished_at?: unknown } };
  const run = data.run ?? {};
  return {
    tenant_id: event.envelope.tenant_id,
    run_id: run.id,
    owner_id: run.owner_id,
    session_id: run.session_id ?? undefined,
    to: data.to,
    finished_at: run.finished_at ?? undefined,
  };
}

/**
 * Consumes `runs.evt.run.status_changed.v1` and, when a run reaches a terminal status, schedules its
 * log to close a grace period later (creating the log row when the run never logged, so its tail
 * ends too). Delivery is at least once; scheduling is idempotent. Invalid events are dropped with a
 * warning; a failure (database down) is retried later by the bus.
 */
@Injectable()
export class RunEndingsConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(RunEndingsConsumer.name);
  private registration: Registration | undefined;

  constructor(
    @Inject(BUS) private readonly bus: Bus,
    private readonly logs: LogsRepository,
    @Inject(LOGS_SETTINGS) private readonly settings: LogsSettings,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.registration = await this.bus.consume({
      durable: RUN_ENDINGS_DURABLE,
      filterSubject: RunStatusChanged.subject,
      maxInFlight: 16,
      handler: (event) => this.handle(event),
    });
  }

  async beforeApplicationShutdown(): Promise<void> {
    const registration = this.registration;
    this.registration = undefined;
    await registration?.stop();
  }

  private async handle(event: DeliveredEvent): Promise<void> {
    let ending: RunEnding;
    try {
      ending = await validatePayload(RunEnding, pick(event));
    } catch (error) {
      this.logger.warn(`Dropping run status event ${event.envelope.id}: ${(error as Error).message}`);
      await event.term();
      return;
    }
    if (!TERMINAL_RUN_STATUSES.has(ending.to)) return;
    const endedAt = ending.finished_at === undefined ? new Date(event.envelope.occurred_at) : new Date(ending.finished_at);
    await this.logs.scheduleClose({
      tenantId: ending.tenant_id,
      runId: ending.run_id,
      ownerId: ending.owner_id,
      sessionId: ending.session_id ?? null,
      endedAt,
      closesAt: new Date(endedAt.getTime() + this.settings.closeGraceMs),
    });
  }
}
