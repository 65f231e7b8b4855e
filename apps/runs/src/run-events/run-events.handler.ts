import { Injectable } from '@nestjs/common';
import { ListRunEvents, type EventEnvelope, type Page, type PayloadOf } from '@runyard/contracts';
import { CommandHandler } from '@runyard/messaging';
import { RunEventsService } from './run-events.service.js';

/** Bus entry point for principals' reads of a run's event history. */
@Injectable()
export class RunEventsHandler {
  constructor(private readonly events: RunEventsService) {}

  @CommandHandler(ListRunEvents)
  list(payload: PayloadOf<typeof ListRunEvents>): Promise<Page<EventEnvelope>> {
    return this.events.list(payload.scope, payload.run_id, payload.query);
  }
}
