import { Type } from 'class-transformer';
import { IsDefined, IsUUID, ValidateNested } from 'class-validator';
import { defineCommand } from '../common/define.js';
import type { Page } from '../common/pagination.js';
import { ScopedPayload } from '../common/scope.js';
import { validateAppendLogLines } from './append-log-lines.validator.js';
import { LogAppendResult, LogBatchBody, LogLinesQuery, type LogLineView, type LogStateView } from './log-line.dto.js';

// Wire names: renaming a subject is a migration (see common/define.ts).

/**
 * Appends a batch of lines to a run's log (workers, and the gateway for `POST /v1/runs/{id}/logs`
 * once it has checked the caller may see the run). Trusted like the worker commands: no caller scope,
 * the run is named by tenant and id, and must exist there (NOT_FOUND) with its log open: RUN_TERMINAL
 * once the run ended and its log closed (a grace period after the end, for lines still in flight);
 * PAYLOAD_TOO_LARGE once the log is full (the batch that filled it was told: `limit_reached`) and
 * for a batch over LOG_BATCH_MAX_BYTES of text; RATE_LIMITED (with retryAfterSeconds) past the
 * tenant's byte budget per minute. The reply comes only after the batch committed.
 */
export class AppendLogLinesPayload extends LogBatchBody {
  @IsUUID()
  tenant_id!: string;

  @IsUUID()
  run_id!: string;
}
// Validated by hand (same rules, same errors): it is the hottest command, class-validator too slow for it.
export const AppendLogLines = defineCommand<LogAppendResult>()('transcripts.cmd.logs.append.v1', AppendLogLinesPayload, { validate: validateAppendLogLines });

abstract class LogScoped extends ScopedPayload {
  @IsUUID()
  run_id!: string;
}

/**
 * A run's lines in seq order, filtered. The caller's visibility of the run is checked by the gateway
 * (GetRun) first; the transcripts service scopes again by tenant and, for members, by the run's owner.
 */
export class ListLogLinesPayload extends LogScoped {
  @IsDefined()
  @ValidateNested()
  @Type(() => LogLinesQuery)
  query!: LogLinesQuery;
}
export const ListLogLines = defineCommand<Page<LogLineView>>()('transcripts.cmd.logs.list.v1', ListLogLinesPayload);

/** Where the run's log stands (last seq, closed): what a live tail needs to know when to end. */
export class GetLogStatePayload extends LogScoped {}
export const GetLogState = defineCommand<LogStateView>()('transcripts.cmd.logs.state.v1', GetLogStatePayload);
