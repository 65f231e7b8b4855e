import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { ListRunEvents, PageQuery, type EventEnvelope, type Page } from '@runyard/contracts';
import { RequestId } from '../edge/request-id.decorator.js';
import { ServiceClient } from '../edge/service-client.js';
import { RunIdPipe } from '../edge/uuid-param.pipe.js';
import { Caller, toCallerScope, type AuthenticatedCaller } from '../identity/caller.js';
import { RunEventPageView } from './run-pages.dto.js';

/** What happened to a run so far, as a list (the live stream is `GET /v1/runs/{id}/stream`). */
@ApiTags('runs')
@ApiBearerAuth()
@Controller('v1/runs/:id/events')
export class RunEventsController {
  constructor(private readonly services: ServiceClient) {}

  @Get()
  @ApiOperation({
    summary: 'List a run’s events',
    description:
      'Oldest first, in the order the runs service committed them: status changes, plan steps, waits, progress and messages. ' +
      'Covers the runs service’s event retention (published events are kept 24 h by default); older history is gone.',
  })
  @ApiParam({ name: 'id', format: 'uuid', description: 'Run id; unknown, foreign and malformed ids answer 404.' })
  @ApiOkResponse({ type: RunEventPageView })
  list(@Caller() caller: AuthenticatedCaller, @Param('id', RunIdPipe) id: string, @Query() query: PageQuery, @RequestId() requestId: string): Promise<Page<EventEnvelope>> {
    return this.services.request(ListRunEvents, { scope: toCallerScope(caller), run_id: id, query }, requestId);
  }
}
