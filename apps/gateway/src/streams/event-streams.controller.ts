import { Controller, Get, Headers, Param, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiHeader, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiParam, ApiProduces, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { RequestId } from '../edge/request-id.decorator.js';
import { RunIdPipe } from '../edge/uuid-param.pipe.js';
import { PROBLEM_CONTENT_TYPE } from '../edge/problem.js';
import { Caller, toCallerScope, type AuthenticatedCaller } from '../identity/caller.js';
import { chooseLastEventId, EventStreamsService } from './event-streams.service.js';
import { EventStreamQuery, RunStreamQuery } from './streams.dto.js';

const SSE_FORMAT =
  'Server-Sent Events (`text/event-stream`). It starts with `retry: <ms>`, then a `ready` event (data `{}`) whose `id:` is ' +
  'the position the stream starts from. Each event has `id:` (an opaque cursor), ' +
  '`event:` (its type: the subject without service and version, e.g. `run.status_changed`, `message.appended`) and ' +
  '`data:` (the event envelope as JSON: id, subject, tenant_id, owner_id, session_id, run_id, trace_id, occurred_at, data). ' +
  '`: ping` comments keep the connection open; when the stream has passed events the caller does not see, a `heartbeat` ' +
  'event (data `{}`) takes the ping\'s place and moves the cursor on. Resume with `Last-Event-ID` (or `last_event_id`): the ' +
  'stream continues strictly after that position, losing and repeating nothing. When that is impossible (the cursor is older ' +
  'than the retained log, or from a log that was recreated), the first event is `gap` ' +
  '(`{"reason":"retention"|"epoch","resumed_from":...}`) followed by everything still retained; a `gap` mid-stream means the ' +
  'log dropped events before they could be sent. The server ends a stream after a maximum lifetime (15 min by default): ' +
  'reconnect with the cursor, as EventSource does. A malformed cursor, or one beyond the end of the log, answers 400 ' +
  '`invalid_cursor`; more open streams than the per-caller limit (20 by default) answer 429 `rate_limited` with `Retry-After`.';

const SSE_RESPONSE = {
  description: 'The stream.',
  content: { 'text/event-stream': { schema: { type: 'string' as const, example: 'id: 3f2a9c1b7d4e-42\nevent: session.created\ndata: {"id":"…","subject":"sessions.evt.session.created.v1",…}\n\n' } } },
};

const LAST_EVENT_ID_HEADER = {
  name: 'Last-Event-ID',
  required: false,
  description: 'The `id` of the last event received; sent by EventSource clients when they reconnect.',
};

/** The live event streams; the service does the work, the controller only reads the request. */
@ApiTags('events')
@ApiBearerAuth()
@Controller('v1')
export class EventStreamsController {
  constructor(private readonly streams: EventStreamsService) {}

  @Get('events/stream')
  @ApiOperation({
    summary: 'Stream events',
    description:
      `Every event the caller may see, live: its tenant's; a member only those of its own sessions and runs. Without a cursor it starts with new events. ${SSE_FORMAT}`,
  })
  @ApiProduces('text/event-stream')
  @ApiHeader(LAST_EVENT_ID_HEADER)
  @ApiOkResponse(SSE_RESPONSE)
  @ApiResponse({
    status: 404,
    description: 'The `session_id` or `run_id` filter names a session or run the caller cannot see (`not_found`).',
    content: { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: '#/components/schemas/Problem' } } },
  })
  async events(
    @Caller() caller: AuthenticatedCaller,
    @Query() query: EventStreamQuery,
    @Headers('last-event-id') lastEventId: string | undefined,
    @RequestId() requestId: string,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const lastEvent = chooseLastEventId(lastEventId, query.last_event_id);
    await this.streams.streamEvents(
      { scope: toCallerScope(caller), lastEventId: lastEvent, requestId, reply },
      { sessionId: query.session_id, runId: query.run_id },
    );
  }

  @Get('runs/:id/stream')
  @ApiOperation({
    summary: 'Stream a run',
    description:
      `The run's events from its creation; the stream ends after the run reaches a terminal status. ` +
      `Reconnecting after that answers 204 No Content, which tells an EventSource to stop. ${SSE_FORMAT}`,
  })
  @ApiParam({ name: 'id', format: 'uuid', description: 'Run id; unknown, foreign and malformed ids answer 404.' })
  @ApiProduces('text/event-stream')
  @ApiHeader(LAST_EVENT_ID_HEADER)
  @ApiOkResponse(SSE_RESPONSE)
  @ApiNoContentResponse({ description: 'The run has ended and the client has all of its events: stop reconnecting.' })
  async run(
    @Caller() caller: AuthenticatedCaller,
    @Param('id', RunIdPipe) id: string,
    @Query() query: RunStreamQuery,
    @Headers('last-event-id') lastEventId: string | undefined,
    @RequestId() requestId: string,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const lastEvent = chooseLastEventId(lastEventId, query.last_event_id);
    await this.streams.streamRun({ scope: toCallerScope(caller), lastEventId: lastEvent, requestId, reply }, id);
  }
}
