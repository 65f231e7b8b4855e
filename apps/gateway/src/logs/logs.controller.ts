import { createHash } from 'node:crypto';
import { Body, Controller, Get, HttpCode, HttpStatus, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiConsumes, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { AppendLogLines, GetRun, ListLogLines, LOG_BATCH_MAX_BYTES, LOG_BATCH_MAX_LINES, LOG_LINE_TEXT_MAX_BYTES, LogAppendResult, LogBatchBody, LogLinesQuery, type LogLineView, type Page } from '@runyard/contracts';
import { RequestId } from '../edge/request-id.decorator.js';
import { ServiceClient } from '../edge/service-client.js';
import { RunIdPipe } from '../edge/uuid-param.pipe.js';
import { Caller, toCallerScope, type AuthenticatedCaller } from '../identity/caller.js';
import { LogLinePageView } from './logs.dto.js';
import { NDJSON_CONTENT_TYPE } from './ndjson-body.js';

const RUN_ID = { name: 'id', format: 'uuid', description: 'Run id; unknown, foreign and malformed ids answer 404.' };

/**
 * A run's log over HTTP. Each route first asks the runs service for the run in the caller's scope
 * (404 for a run it cannot see), then the transcripts service for the lines.
 */
@ApiTags('logs')
@ApiBearerAuth()
@Controller('v1/runs/:id/logs')
export class LogsController {
  constructor(private readonly services: ServiceClient) {}

  @Post()
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    summary: 'Append log lines to a run',
    description:
      `A batch of up to ${LOG_BATCH_MAX_LINES} lines and ${LOG_BATCH_MAX_BYTES} bytes of text, as JSON \`{"lines": [...]}\` or as ` +
      `\`${NDJSON_CONTENT_TYPE}\` (one line object per line). The answer comes once the lines are stored, numbered by \`seq\` in ` +
      `commit order. A line over ${LOG_LINE_TEXT_MAX_BYTES} bytes is stored cut, with a marker and \`truncated: true\`. ` +
      'A full run log ends with a system line "log truncated: limit reached"; the batch that filled it says how many lines were ' +
      '`refused`, later ones get 413 `payload_too_large`. Once the run has ended (after a short grace period) its log is closed: ' +
      '409 `run_terminal`. A tenant past its bytes per minute gets 429. `producer` (`id`, `batch_seq`) makes retries idempotent; ' +
      'so does Idempotency-Key. Not recorded in the audit trail line by line (volume); see README.',
  })
  @ApiParam(RUN_ID)
  @ApiConsumes('application/json', NDJSON_CONTENT_TYPE)
  @ApiBody({ type: LogBatchBody })
  @ApiOkResponse({ type: LogAppendResult })
  async append(@Caller() caller: AuthenticatedCaller, @Param('id', RunIdPipe) id: string, @Body() body: LogBatchBody, @RequestId() requestId: string): Promise<LogAppendResult> {
    const scope = toCallerScope(caller);
    await this.services.request(GetRun, { scope, run_id: id }, requestId);
    const payload = { tenant_id: scope.tenant_id, run_id: id, lines: body.lines };
    if (body.producer === undefined) return this.services.request(AppendLogLines, payload, requestId);
    // A client's producer ids live in a namespace of their principal's, apart from workers' (fixed length: hashed).
    const producerId = `api:${createHash('sha256').update(`${scope.principal_id}\n${body.producer.id}`).digest('hex').slice(0, 40)}`;
    return this.services.request(AppendLogLines, { ...payload, producer: { id: producerId, batch_seq: body.producer.batch_seq } }, requestId);
  }

  @Get()
  @ApiOperation({
    summary: 'List a run’s log lines',
    description: 'In seq order, filtered by `stream`, a time range (`since` inclusive, `until` exclusive, on the producer’s timestamps) and `after_seq`.',
  })
  @ApiParam(RUN_ID)
  @ApiOkResponse({ type: LogLinePageView })
  async list(@Caller() caller: AuthenticatedCaller, @Param('id', RunIdPipe) id: string, @Query() query: LogLinesQuery, @RequestId() requestId: string): Promise<Page<LogLineView>> {
    const scope = toCallerScope(caller);
    await this.services.request(GetRun, { scope, run_id: id }, requestId);
    return this.services.request(ListLogLines, { scope, run_id: id, query }, requestId);
  }
}
