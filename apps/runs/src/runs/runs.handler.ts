import { Injectable } from '@nestjs/common';
import { CancelRun, CreateRun, GetRun, ListRuns, type Page, type PayloadOf, type RunView } from '@runyard/contracts';
import { CommandHandler } from '@runyard/messaging';
import { RunsService } from './runs.service.js';

/** Bus entry points for principals' run commands: each maps a validated payload to one service call. */
@Injectable()
export class RunsHandler {
  constructor(private readonly runs: RunsService) {}

  @CommandHandler(CreateRun)
  create(payload: PayloadOf<typeof CreateRun>): Promise<RunView> {
    return this.runs.create(payload.scope, payload.body, payload.idempotency_key);
  }

  @CommandHandler(GetRun)
  get(payload: PayloadOf<typeof GetRun>): Promise<RunView> {
    return this.runs.get(payload.scope, payload.run_id);
  }

  @CommandHandler(ListRuns)
  list(payload: PayloadOf<typeof ListRuns>): Promise<Page<RunView>> {
    return this.runs.list(payload.scope, payload.query);
  }

  @CommandHandler(CancelRun)
  cancel(payload: PayloadOf<typeof CancelRun>): Promise<RunView> {
    return this.runs.cancel(payload.scope, payload.run_id, payload.body);
  }
}
