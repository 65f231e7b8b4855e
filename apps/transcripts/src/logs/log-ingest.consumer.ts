import { type BeforeApplicationShutdown, Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { AppendLogLines } from '@runyard/contracts';
import { BUS, type Bus, type Registration } from '@runyard/messaging';
import { LogsService } from './logs.service.js';

/** Durable consumer of the log-ingest work queue, shared by every replica (each batch to one of them). */
export const LOG_INGEST_DURABLE = 'transcripts-log-ingest';
/** Batches one replica appends at once: they wait on their run's row lock, so this many runs at a time. */
const INGEST_IN_FLIGHT = 32;

/**
 * The workers' way in (`ctx.log`): batches queued on JetStream (`Bus.submit`), appended here, and
 * replied to only once committed. A batch stays queued while no replica runs or the database is down,
 * and is appended once however often it is delivered (producer id + batch_seq).
 * `POST /v1/runs/{id}/logs` takes the direct request (`LogsHandler`): an HTTP caller waits for its
 * answer anyway, and a refusal must reach it, not a queue.
 */
@Injectable()
export class LogIngestConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private registration: Registration | undefined;

  constructor(
    @Inject(BUS) private readonly bus: Bus,
    private readonly logs: LogsService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.registration = await this.bus.work(AppendLogLines, {
      durable: LOG_INGEST_DURABLE,
      maxInFlight: INGEST_IN_FLIGHT,
      handler: (payload) => this.logs.append(payload),
    });
  }

  async beforeApplicationShutdown(): Promise<void> {
    const registration = this.registration;
    this.registration = undefined;
    await registration?.stop();
  }
}
