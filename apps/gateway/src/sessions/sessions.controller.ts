import { Body, Controller, Get, HttpCode, HttpStatus, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import {
  ArchiveSession,
  CreateSession,
  CreateSessionBody,
  GetSession,
  ListSessions,
  ListSessionsQuery,
  SessionView,
  UpdateSession,
  UpdateSessionBody,
  type Page,
} from '@runyard/contracts';
import { Audited } from '../audit/audited.decorator.js';
import { RequestId } from '../edge/request-id.decorator.js';
import { ServiceClient } from '../edge/service-client.js';
import { SessionIdPipe } from '../edge/uuid-param.pipe.js';
import { Caller, toCallerScope, type AuthenticatedCaller } from '../identity/caller.js';
import { SessionPageView } from './pages.dto.js';

const SESSION_ID = { name: 'id', format: 'uuid', description: 'Session id; unknown, foreign and malformed ids answer 404.' };

/** Sessions over HTTP: each route is one command to the sessions service, scoped to the caller. */
@ApiTags('sessions')
@ApiBearerAuth()
@Controller('v1/sessions')
export class SessionsController {
  constructor(private readonly services: ServiceClient) {}

  @Post()
  @HttpCode(HttpStatus.CREATED)
  @Audited('session.create', 'session')
  @ApiOperation({ summary: 'Create a session', description: 'Honours Idempotency-Key: a retry returns the original session.' })
  @ApiCreatedResponse({ type: SessionView })
  create(@Caller() caller: AuthenticatedCaller, @Body() body: CreateSessionBody, @RequestId() requestId: string): Promise<SessionView> {
    return this.services.request(CreateSession, { scope: toCallerScope(caller), body }, requestId);
  }

  @Get()
  @ApiOperation({ summary: 'List sessions', description: 'Newest first. Members see only their own sessions.' })
  @ApiOkResponse({ type: SessionPageView })
  list(@Caller() caller: AuthenticatedCaller, @Query() query: ListSessionsQuery, @RequestId() requestId: string): Promise<Page<SessionView>> {
    return this.services.request(ListSessions, { scope: toCallerScope(caller), query }, requestId);
  }

  @Get(':id')
  @ApiOperation({ summary: 'Get a session' })
  @ApiParam(SESSION_ID)
  @ApiOkResponse({ type: SessionView })
  get(@Caller() caller: AuthenticatedCaller, @Param('id', SessionIdPipe) id: string, @RequestId() requestId: string): Promise<SessionView> {
    return this.services.request(GetSession, { scope: toCallerScope(caller), session_id: id }, requestId);
  }

  @Patch(':id')
  @Audited('session.update', 'session')
  @ApiOperation({ summary: 'Update a session', description: 'Each field given replaces the stored one; null clears title or route_policy.' })
  @ApiParam(SESSION_ID)
  @ApiOkResponse({ type: SessionView })
  update(
    @Caller() caller: AuthenticatedCaller,
    @Param('id', SessionIdPipe) id: string,
    @Body() body: UpdateSessionBody,
    @RequestId() requestId: string,
  ): Promise<SessionView> {
    return this.services.request(UpdateSession, { scope: toCallerScope(caller), session_id: id, body }, requestId);
  }

  @Post(':id/archive')
  @HttpCode(HttpStatus.OK)
  @Audited('session.archive', 'session')
  @ApiOperation({ summary: 'Archive a session', description: 'An archived session takes no new messages.' })
  @ApiParam(SESSION_ID)
  @ApiOkResponse({ type: SessionView })
  archive(@Caller() caller: AuthenticatedCaller, @Param('id', SessionIdPipe) id: string, @RequestId() requestId: string): Promise<SessionView> {
    return this.services.request(ArchiveSession, { scope: toCallerScope(caller), session_id: id }, requestId);
  }
}
