import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { ListPlanSteps, PageQuery, type Page, type PlanStepView } from '@runyard/contracts';
import { RequestId } from '../edge/request-id.decorator.js';
import { ServiceClient } from '../edge/service-client.js';
import { RunIdPipe } from '../edge/uuid-param.pipe.js';
import { Caller, toCallerScope, type AuthenticatedCaller } from '../identity/caller.js';
import { PlanStepPageView } from './run-pages.dto.js';

/** A run's plan steps, as its executor reported them. */
@ApiTags('runs')
@ApiBearerAuth()
@Controller('v1/runs/:id/steps')
export class RunStepsController {
  constructor(private readonly services: ServiceClient) {}

  @Get()
  @ApiOperation({ summary: 'List a run’s plan steps', description: 'In position order (the order the executor first reported them), with their evidence.' })
  @ApiParam({ name: 'id', format: 'uuid', description: 'Run id; unknown, foreign and malformed ids answer 404.' })
  @ApiOkResponse({ type: PlanStepPageView })
  list(@Caller() caller: AuthenticatedCaller, @Param('id', RunIdPipe) id: string, @Query() query: PageQuery, @RequestId() requestId: string): Promise<Page<PlanStepView>> {
    return this.services.request(ListPlanSteps, { scope: toCallerScope(caller), run_id: id, query }, requestId);
  }
}
