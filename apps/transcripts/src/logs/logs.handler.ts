import { Injectable } from '@nestjs/common';
import { AppendLogLines, GetLogState, ListLogLines, type LogAppendResult, type LogLineView, type LogStateView, type Page, type PayloadOf } from '@runyard/contracts';
import { CommandHandler } from '@runyard/messaging';
import { LogsService } from './logs.service.js';

/** Bus entry points of run logs: producers' appends (trusted, no caller scope) and principals' reads. */
@Injectable()
export class LogsHandler {
  constructor(private readonly logs: LogsService) {}

  @CommandHandler(AppendLogLines)
  append(payload: PayloadOf<typeof AppendLogLines>): Promise<LogAppendResult> {
    return this.logs.append(payload);
  }

  @CommandHandler(ListLogLines)
  list(payload: PayloadOf<typeof ListLogLines>): Promise<Page<LogLineView>> {
    return this.logs.list(payload.scope, payload.run_id, payload.query);
  }

  @CommandHandler(GetLogState)
  state(payload: PayloadOf<typeof GetLogState>): Promise<LogStateView> {
    return this.logs.state(payload.scope, payload.run_id);
  }
}
