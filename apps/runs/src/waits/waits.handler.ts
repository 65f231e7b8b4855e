import { Injectable } from '@nestjs/common';
import { AnswerWait, ListWaits, type AnsweredWait, type Page, type PayloadOf, type WaitView } from '@runyard/contracts';
import { CommandHandler } from '@runyard/messaging';
import { WaitsService } from './waits.service.js';

/** Bus entry points for principals' wait commands (the executor opens waits through WorkersHandler). */
@Injectable()
export class WaitsHandler {
  constructor(private readonly waits: WaitsService) {}

  @CommandHandler(ListWaits)
  list(payload: PayloadOf<typeof ListWaits>): Promise<Page<WaitView>> {
    return this.waits.list(payload.scope, payload.run_id, payload.query);
  }

  @CommandHandler(AnswerWait)
  answer(payload: PayloadOf<typeof AnswerWait>): Promise<AnsweredWait> {
    return this.waits.answer(payload.scope, payload.run_id, payload.wait_id, { decision: payload.decision, reason: payload.reason, input: payload.input });
  }
}
