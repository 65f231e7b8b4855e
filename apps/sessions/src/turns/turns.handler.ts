import { Injectable } from '@nestjs/common';
import { CreateTurn, type PayloadOf, type TurnView } from '@runyard/contracts';
import { CommandHandler } from '@runyard/messaging';
import { TurnsService } from './turns.service.js';

/** Bus entry point for turn intake: maps the validated payload to one service call. */
@Injectable()
export class TurnsHandler {
  constructor(private readonly turns: TurnsService) {}

  @CommandHandler(CreateTurn)
  create(payload: PayloadOf<typeof CreateTurn>): Promise<TurnView> {
    return this.turns.create(payload.scope, payload.session_id, payload.body, payload.idempotency_key);
  }
}
