import { Body, Controller, Get, HttpCode, HttpStatus, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import {
  AnsweredWait,
  AnswerWait,
  ApproveWaitBody,
  DenyWaitBody,
  ListWaits,
  PageQuery,
  RespondWaitBody,
  type CallerScope,
  type Page,
  type PayloadOf,
  type WaitView,
} from '@runyard/contracts';
import { Audited } from '../audit/audited.decorator.js';
import { RequestId } from '../edge/request-id.decorator.js';
import { ServiceClient } from '../edge/service-client.js';
import { RunIdPipe, WaitIdPipe } from '../edge/uuid-param.pipe.js';
import { Caller, toCallerScope, type AuthenticatedCaller } from '../identity/caller.js';
import { WaitPageView } from './run-pages.dto.js';

const RUN_ID = { name: 'id', format: 'uuid', description: 'Run id; unknown, foreign and malformed ids answer 404.' };
const WAIT_ID = { name: 'wait_id', format: 'uuid', description: 'Wait id (of this run); unknown, foreign and malformed ids answer 404.' };
const ANSWER_OUTCOMES =
  'The wait is answered and the same run resumes: it is `pending` again and its next claim carries the answer. ' +
  '409 `run_terminal` when the run has ended, 409 `conflict` when the wait is no longer open or is of the other kind.';

type Answer = Pick<PayloadOf<typeof AnswerWait>, 'decision' | 'reason' | 'input'>;

/** A run's approvals and input requests: list them, and answer the open one. */
@ApiTags('runs')
@ApiBearerAuth()
@Controller('v1/runs/:id/waits')
export class RunWaitsController {
  constructor(private readonly services: ServiceClient) {}

  @Get()
  @ApiOperation({ summary: 'List a run’s waits', description: 'Approvals and input requests, oldest first, with their answers.' })
  @ApiParam(RUN_ID)
  @ApiOkResponse({ type: WaitPageView })
  list(@Caller() caller: AuthenticatedCaller, @Param('id', RunIdPipe) id: string, @Query() query: PageQuery, @RequestId() requestId: string): Promise<Page<WaitView>> {
    return this.services.request(ListWaits, { scope: toCallerScope(caller), run_id: id, query }, requestId);
  }

  @Post(':wait_id/approve')
  @HttpCode(HttpStatus.OK)
  @Audited('run.wait.approve', 'run')
  @ApiOperation({ summary: 'Approve an approval', description: ANSWER_OUTCOMES })
  @ApiParam(RUN_ID)
  @ApiParam(WAIT_ID)
  @ApiOkResponse({ type: AnsweredWait })
  approve(
    @Caller() caller: AuthenticatedCaller,
    @Param('id', RunIdPipe) id: string,
    @Param('wait_id', WaitIdPipe) waitId: string,
    @Body() body: ApproveWaitBody,
    @RequestId() requestId: string,
  ): Promise<AnsweredWait> {
    return this.answer(toCallerScope(caller), id, waitId, { decision: 'approved', reason: body.reason }, requestId);
  }

  @Post(':wait_id/deny')
  @HttpCode(HttpStatus.OK)
  @Audited('run.wait.deny', 'run')
  @ApiOperation({ summary: 'Deny an approval', description: `${ANSWER_OUTCOMES} The executor gets the denial and its reason.` })
  @ApiParam(RUN_ID)
  @ApiParam(WAIT_ID)
  @ApiOkResponse({ type: AnsweredWait })
  deny(
    @Caller() caller: AuthenticatedCaller,
    @Param('id', RunIdPipe) id: string,
    @Param('wait_id', WaitIdPipe) waitId: string,
    @Body() body: DenyWaitBody,
    @RequestId() requestId: string,
  ): Promise<AnsweredWait> {
    return this.answer(toCallerScope(caller), id, waitId, { decision: 'denied', reason: body.reason }, requestId);
  }

  @Post(':wait_id/respond')
  @HttpCode(HttpStatus.OK)
  @Audited('run.wait.respond', 'run')
  @ApiOperation({
    summary: 'Respond to an input request',
    description: `${ANSWER_OUTCOMES} The input must satisfy the wait’s \`schema\` when it has one (400 \`validation_failed\` lists the problems).`,
  })
  @ApiParam(RUN_ID)
  @ApiParam(WAIT_ID)
  @ApiOkResponse({ type: AnsweredWait })
  respond(
    @Caller() caller: AuthenticatedCaller,
    @Param('id', RunIdPipe) id: string,
    @Param('wait_id', WaitIdPipe) waitId: string,
    @Body() body: RespondWaitBody,
    @RequestId() requestId: string,
  ): Promise<AnsweredWait> {
    return this.answer(toCallerScope(caller), id, waitId, { decision: 'responded', input: body.input }, requestId);
  }

  private answer(scope: CallerScope, runId: string, waitId: string, answer: Answer, requestId: string): Promise<AnsweredWait> {
    return this.services.request(AnswerWait, { scope, run_id: runId, wait_id: waitId, ...answer }, requestId);
  }
}
