import { type BeforeApplicationShutdown, Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { LogClosed } from '@runyard/contracts';
import { newEvent, TransactionalOutbox } from '@runyard/messaging';
import { LOGS_SETTINGS, type LogsSettings } from './logs-settings.js';
import { LogsRepository } from './logs.repository.js';
import { logEventRefs } from './logs.service.js';

const CLOSE_BATCH = 100;

/**
 * Closes the logs whose run ended more than the grace period ago, each with a LogClosed event (its
 * final seq) in the same transaction — what a live tail waits for to end. Any number of replicas run
 * it; SKIP LOCKED gives each log to one of them.
 */
@Injectable()
export class LogCloser implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(LogCloser.name);
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<void> | undefined;
  private stopping = false;

  constructor(
    private readonly logs: LogsRepository,
    private readonly outbox: TransactionalOutbox,
    @Inject(LOGS_SETTINGS) private readonly settings: LogsSettings,
  ) {}

  onApplicationBootstrap(): void {
    this.stopping = false;
    this.schedule();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    await this.round;
  }

  /** Closes every log due now; the number closed. */
  async closeDue(): Promise<number> {
    let total = 0;
    for (;;) {
      const closed = await this.outbox.run(async (tx, events) => {
        const logs = await this.logs.closeDue(tx, new Date(), CLOSE_BATCH);
        for (const log of logs) events.add(newEvent(LogClosed, logEventRefs(log), { run_id: log.runId, last_seq: log.lastSeq }));
        return logs.length;
      });
      total += closed;
      if (closed < CLOSE_BATCH || this.stopping) return total;
    }
  }

  private schedule(): void {
    if (this.stopping) return;
    this.timer = setTimeout(() => {
      this.round = this.closeDue().then(
        () => undefined,
        (error: unknown) => this.logger.warn(`Closing logs failed; next round in ${this.settings.closeSweepIntervalMs} ms: ${(error as Error).message}`),
      );
      void this.round.then(() => this.schedule());
    }, this.settings.closeSweepIntervalMs);
    this.timer.unref();
  }
}
