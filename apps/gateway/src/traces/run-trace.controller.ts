import { Controller, Get, Param } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { GetRun, GetRunTrace, RUN_TRACE_REPLY_MAX_BYTES, RunTraceView } from '@runyard/contracts';
import { RequestId } from '../edge/request-id.decorator.js';
import { ServiceClient } from '../edge/service-client.js';
import { RunIdPipe } from '../edge/uuid-param.pipe.js';
import { Caller, toCallerScope, type AuthenticatedCaller } from '../identity/caller.js';

/**
 * A run's trace over HTTP: first the runs service is asked for the run in the caller's scope (404 for
 * a run the caller cannot see), then the transcripts service for its spans as a tree.
 */
@ApiTags('traces')
@ApiBearerAuth()
@Controller('v1/runs/:id/trace')
export class RunTraceController {
  constructor(private readonly services: ServiceClient) {}

  @Get()
  @ApiOperation({
    summary: 'Get a run’s trace as a tree of spans',
    description:
      'The spans its workers recorded — the run’s execution (one root per pass), tool and model calls, approvals and input ' +
      'requests, state changes — each with its children, in start order, with `duration_ms`. Open spans have no end yet. ' +
      `The answer stays under ${RUN_TRACE_REPLY_MAX_BYTES} bytes: a larger tree is cut (the spans that came first are kept) ` +
      'and says `truncated: true`.',
  })
  @ApiParam({ name: 'id', format: 'uuid', description: 'Run id; unknown, foreign and malformed ids answer 404.' })
  @ApiOkResponse({ type: RunTraceView })
  async get(@Caller() caller: AuthenticatedCaller, @Param('id', RunIdPipe) id: string, @RequestId() requestId: string): Promise<RunTraceView> {
    const scope = toCallerScope(caller);
    await this.services.request(GetRun, { scope, run_id: id }, requestId);
    return this.services.request(GetRunTrace, { scope, run_id: id }, requestId);
  }
}
