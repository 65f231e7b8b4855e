import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { GetSession, ListRuns, type Page, type RunView } from '@runyard/contracts';
import { RequestId } from '../edge/request-id.decorator.js';
import { ServiceClient } from '../edge/service-client.js';
import { SessionIdPipe } from '../edge/uuid-param.pipe.js';
import { Caller, toCallerScope, type AuthenticatedCaller } from '../identity/caller.js';
import { RunPageView, SessionRunsQuery } from './runs.dto.js';

/** The runs of one session: the runs list filtered by it, for a session the caller can see. */
@ApiTags('runs')
@ApiBearerAuth()
@Controller('v1/sessions/:id/runs')
export class SessionRunsController {
  constructor(private readonly services: ServiceClient) {}

  @Get()
  @ApiOperation({ summary: 'List a session’s runs', description: 'Newest first; the same filters as `GET /v1/runs`.' })
  @ApiParam({ name: 'id', format: 'uuid', description: 'Session id; unknown, foreign and malformed ids answer 404.' })
  @ApiOkResponse({ type: RunPageView })
  async list(
    @Caller() caller: AuthenticatedCaller,
    @Param('id', SessionIdPipe) id: string,
    @Query() query: SessionRunsQuery,
    @RequestId() requestId: string,
  ): Promise<Page<RunView>> {
    const scope = toCallerScope(caller);
    // The runs list alone would answer an empty page for a session the caller cannot see; the API answers 404.
    await this.services.request(GetSession, { scope, session_id: id }, requestId);
    return this.services.request(ListRuns, { scope, query: { ...query, session_id: id } }, requestId);
  }
}
