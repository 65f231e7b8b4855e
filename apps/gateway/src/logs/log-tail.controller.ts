import { Controller, Get, Headers, Param, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiHeader, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiParam, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { RequestId } from '../edge/request-id.decorator.js';
import { RunIdPipe } from '../edge/uuid-param.pipe.js';
import { Caller, toCallerScope, type AuthenticatedCaller } from '../identity/caller.js';
import { chooseLastEventId } from '../streams/event-streams.service.js';
import { RunStreamQuery } from '../streams/streams.dto.js';
import { LogTailService } from './log-tail.service.js';

/** The live tail of a run's log; the service does the work, the controller only reads the request. */
@ApiTags('logs')
@ApiBearerAuth()
@Controller('v1/runs/:id/logs/stream')
export class LogTailController {
  constructor(private readonly tails: LogTailService) {}

  @Get()
  @ApiOperation({
    summary: 'Tail a run’s log',
    description:
      'Server-Sent Events: `retry: <ms>`, then every line after the cursor and each new one as it is stored, as `log.line` events ' +
      '(`id:` = the line’s seq, `data:` = the line as JSON), in seq order; `: ping` comments keep it open. Resume with `Last-Event-ID` ' +
      '(or `last_event_id`) = the last seq received: nothing is lost or repeated. When the run has ended and its log is closed, the ' +
      'last lines are followed by a `log.closed` event (`{"run_id", "last_seq"}`) and the stream ends; reconnecting then answers 204.',
  })
  @ApiParam({ name: 'id', format: 'uuid', description: 'Run id; unknown, foreign and malformed ids answer 404.' })
  @ApiProduces('text/event-stream')
  @ApiHeader({ name: 'Last-Event-ID', required: false, description: 'The seq of the last line received.' })
  @ApiOkResponse({ description: 'The stream.', content: { 'text/event-stream': { schema: { type: 'string', example: 'id: 42\nevent: log.line\ndata: {"run_id":"…","seq":42,…}\n\n' } } } })
  @ApiNoContentResponse({ description: 'The log is closed and the client has all of its lines: stop reconnecting.' })
  async tail(
    @Caller() caller: AuthenticatedCaller,
    @Param('id', RunIdPipe) id: string,
    @Query() query: RunStreamQuery,
    @Headers('last-event-id') lastEventId: string | undefined,
    @RequestId() requestId: string,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    await this.tails.stream({ scope: toCallerScope(caller), lastEventId: chooseLastEventId(lastEventId, query.last_event_id), requestId, reply }, id);
  }
}
