import { Body, Controller, Get, HttpCode, HttpStatus, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { AppendMessage, AppendMessageBody, ChatMessageView, ListMessages, ListMessagesQuery, type Page } from '@runyard/contracts';
import { Audited } from '../audit/audited.decorator.js';
import { RequestId } from '../edge/request-id.decorator.js';
import { ServiceClient } from '../edge/service-client.js';
import { SessionIdPipe } from '../edge/uuid-param.pipe.js';
import { Caller, toCallerScope, type AuthenticatedCaller } from '../identity/caller.js';
import { ChatMessagePageView } from './pages.dto.js';

const SESSION_ID = { name: 'id', format: 'uuid', description: 'Session id; unknown, foreign and malformed ids answer 404.' };

/** The raw chat of a session: append and read, in seq order. */
@ApiTags('sessions')
@ApiBearerAuth()
@Controller('v1/sessions/:id/messages')
export class MessagesController {
  constructor(private readonly services: ServiceClient) {}

  @Post()
  @HttpCode(HttpStatus.CREATED)
  @Audited('message.append', 'chat_message')
  @ApiOperation({ summary: 'Append a chat message', description: 'Honours Idempotency-Key: a retry returns the original message.' })
  @ApiParam(SESSION_ID)
  @ApiCreatedResponse({ type: ChatMessageView })
  append(
    @Caller() caller: AuthenticatedCaller,
    @Param('id', SessionIdPipe) id: string,
    @Body() body: AppendMessageBody,
    @RequestId() requestId: string,
  ): Promise<ChatMessageView> {
    return this.services.request(AppendMessage, { scope: toCallerScope(caller), session_id: id, body }, requestId);
  }

  @Get()
  @ApiOperation({ summary: 'List chat messages', description: 'In seq order; `after_seq` reads only newer ones.' })
  @ApiParam(SESSION_ID)
  @ApiOkResponse({ type: ChatMessagePageView })
  list(
    @Caller() caller: AuthenticatedCaller,
    @Param('id', SessionIdPipe) id: string,
    @Query() query: ListMessagesQuery,
    @RequestId() requestId: string,
  ): Promise<Page<ChatMessageView>> {
    return this.services.request(ListMessages, { scope: toCallerScope(caller), session_id: id, query }, requestId);
  }
}
