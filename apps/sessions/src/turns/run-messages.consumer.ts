import { type BeforeApplicationShutdown, Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { RunMessageData, RunMessagePosted } from '@runyard/contracts';
import { BUS, validatePayload, type Bus, type DeliveredEvent, type Registration } from '@runyard/messaging';
import { IsUUID } from 'class-validator';
import { RunMessagesService } from './run-messages.service.js';

/** Durable consumer name: one per purpose, shared by every replica (each event goes to one of them). */
export const RUN_MESSAGES_DURABLE = 'sessions-run-messages';

class RunMessagePostedEnvelope {
  @IsUUID()
  tenant_id!: string;
}

/**
 * Consumes `runs.evt.run.message_posted.v1` from application bootstrap to shutdown and records each
 * message (RunMessagesService). Delivery is at least once; the recording is exactly once. A message
 * that can never be recorded (invalid, or no such session) is dropped with a warning; a failure
 * (database down) is retried later by the bus (nak with delay), in order.
 */
@Injectable()
export class RunMessagesConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(RunMessagesConsumer.name);
  private registration: Registration | undefined;

  constructor(
    @Inject(BUS) private readonly bus: Bus,
    private readonly runMessages: RunMessagesService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.registration = await this.bus.consume({
      durable: RUN_MESSAGES_DURABLE,
      filterSubject: RunMessagePosted.subject,
      handler: (event) => this.handle(event),
    });
  }

  async beforeApplicationShutdown(): Promise<void> {
    const registration = this.registration;
    this.registration = undefined;
    // In-flight recordings finish; the durable resumes after the last acknowledged event.
    await registration?.stop();
  }

  private async handle(event: DeliveredEvent): Promise<void> {
    const { envelope } = event;
    let data: RunMessageData;
    try {
      await validatePayload(RunMessagePostedEnvelope, { tenant_id: envelope.tenant_id });
      data = await validatePayload(RunMessageData, envelope.data);
    } catch (error) {
      // Ids and reasons only: the content stays out of logs.
      this.logger.warn(`Dropping run message event ${envelope.id}: ${(error as Error).message}`);
      await event.term();
      return;
    }
    const recorded = await this.runMessages.record({
      tenantId: envelope.tenant_id,
      sessionId: data.session_id,
      runId: data.run_id,
      key: data.key,
      content: data.content,
      metadata: data.metadata ?? {},
    });
    if (recorded.outcome === 'no_session') {
      this.logger.warn(`Dropping run message event ${envelope.id}: session ${data.session_id} does not exist in its tenant`);
      await event.term();
    }
  }
}
