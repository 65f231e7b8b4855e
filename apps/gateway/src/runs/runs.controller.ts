import { Body, Controller, Get, HttpCode, HttpStatus, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { CancelRun, CancelRunBody, CreateRun, CreateRunBody, GetRun, ListRuns, ListRunsQuery, RunView, type Page } from '@runyard/contracts';
import { Audited } from '../audit/audited.decorator.js';
import { IdempotencyKey } from '../edge/idempotency/idempotency-key.decorator.js';
import { RequestId } from '../edge/request-id.decorator.js';
import { ServiceClient } from '../edge/service-client.js';
import { RunIdPipe } from '../edge/uuid-param.pipe.js';
import { Caller, toCallerScope, type AuthenticatedCaller } from '../identity/caller.js';
import { RunPageView } from './runs.dto.js';

const RUN_ID = { name: 'id', format: 'uuid', description: 'Run id; unknown, foreign and malformed ids answer 404.' };

/** Runs over HTTP: each route is one command to the runs service, scoped to the caller. */
@ApiTags('runs')
@ApiBearerAuth()
@Controller('v1/runs')
export class RunsController {
  constructor(private readonly services: ServiceClient) {}

  @Post()
  @HttpCode(HttpStatus.CREATED)
  @Audited('run.create', 'run')
  @ApiOperation({
    summary: 'Create a run',
    description:
      'In a busy session the run is queued (`busy_policy: enqueue`), refused with 409 (`reject`) or takes over (`interrupt`). ' +
      'Honours Idempotency-Key: a retry returns the original run — from the gateway for 24 h, and from the runs service for as ' +
      'long as the run exists (the key is stored on the run, per principal).',
  })
  @ApiCreatedResponse({ type: RunView })
  create(
    @Caller() caller: AuthenticatedCaller,
    @Body() body: CreateRunBody,
    @IdempotencyKey() idempotencyKey: string | undefined,
    @RequestId() requestId: string,
  ): Promise<RunView> {
    const payload = { scope: toCallerScope(caller), body };
    // `api:`: a client's key lives in its own namespace, apart from the keys of turns' runs (`turn:`).
    return this.services.request(CreateRun, idempotencyKey === undefined ? payload : { ...payload, idempotency_key: `api:${idempotencyKey}` }, requestId);
  }

  @Get()
  @ApiOperation({ summary: 'List runs', description: 'Newest first. Members see only the runs of their own sessions and their own runs.' })
  @ApiOkResponse({ type: RunPageView })
  list(@Caller() caller: AuthenticatedCaller, @Query() query: ListRunsQuery, @RequestId() requestId: string): Promise<Page<RunView>> {
    return this.services.request(ListRuns, { scope: toCallerScope(caller), query }, requestId);
  }

  @Get(':id')
  @ApiOperation({ summary: 'Get a run' })
  @ApiParam(RUN_ID)
  @ApiOkResponse({ type: RunView })
  get(@Caller() caller: AuthenticatedCaller, @Param('id', RunIdPipe) id: string, @RequestId() requestId: string): Promise<RunView> {
    return this.services.request(GetRun, { scope: toCallerScope(caller), run_id: id }, requestId);
  }

  @Post(':id/cancel')
  @HttpCode(HttpStatus.OK)
  @Audited('run.cancel', 'run')
  @ApiOperation({
    summary: 'Cancel a run',
    description: 'A run not yet running is cancelled at once, a running one goes through `cancelling`; its unfinished sub-runs follow. Idempotent.',
  })
  @ApiParam(RUN_ID)
  @ApiOkResponse({ type: RunView })
  cancel(
    @Caller() caller: AuthenticatedCaller,
    @Param('id', RunIdPipe) id: string,
    @Body() body: CancelRunBody,
    @RequestId() requestId: string,
  ): Promise<RunView> {
    return this.services.request(CancelRun, { scope: toCallerScope(caller), run_id: id, body }, requestId);
  }
}
