import { Body, Controller, Get, HttpCode, HttpStatus, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import {
  CreateSessionTranscriptSegment,
  CreateTranscriptSegmentBody,
  GetSession,
  ListSessionTranscriptSegments,
  ListTranscriptSegmentsQuery,
  TranscriptSegmentView,
  type Page,
} from '@runyard/contracts';
import { Audited } from '../audit/audited.decorator.js';
import { IdempotencyKey } from '../edge/idempotency/idempotency-key.decorator.js';
import { RequestId } from '../edge/request-id.decorator.js';
import { ServiceClient } from '../edge/service-client.js';
import { SessionIdPipe } from '../edge/uuid-param.pipe.js';
import { Caller, toCallerScope, type AuthenticatedCaller } from '../identity/caller.js';
import { CREATE_SEGMENT_DESCRIPTION, LIST_SEGMENTS_DESCRIPTION, TranscriptSegmentPageView } from './transcript-segments.dto.js';

const SESSION_ID = { name: 'id', format: 'uuid', description: 'Session id; unknown, foreign and malformed ids answer 404.' };

/** A session's transcript segments: its own and its runs'. */
@ApiTags('transcripts')
@ApiBearerAuth()
@Controller('v1/sessions/:id/transcript-segments')
export class SessionTranscriptSegmentsController {
  constructor(private readonly services: ServiceClient) {}

  @Post()
  @HttpCode(HttpStatus.CREATED)
  @Audited('transcript_segment.create', 'transcript_segment')
  @ApiOperation({ summary: 'Add a transcript segment to a session', description: CREATE_SEGMENT_DESCRIPTION })
  @ApiParam(SESSION_ID)
  @ApiCreatedResponse({ type: TranscriptSegmentView })
  create(
    @Caller() caller: AuthenticatedCaller,
    @Param('id', SessionIdPipe) id: string,
    @Body() body: CreateTranscriptSegmentBody,
    @IdempotencyKey() idempotencyKey: string | undefined,
    @RequestId() requestId: string,
  ): Promise<TranscriptSegmentView> {
    const payload = { scope: toCallerScope(caller), session_id: id, body };
    return this.services.request(CreateSessionTranscriptSegment, idempotencyKey === undefined ? payload : { ...payload, idempotency_key: `api:${idempotencyKey}` }, requestId);
  }

  @Get()
  @ApiOperation({ summary: 'List a session’s transcript segments', description: `${LIST_SEGMENTS_DESCRIPTION} Includes the segments of the session’s runs.` })
  @ApiParam(SESSION_ID)
  @ApiOkResponse({ type: TranscriptSegmentPageView })
  async list(
    @Caller() caller: AuthenticatedCaller,
    @Param('id', SessionIdPipe) id: string,
    @Query() query: ListTranscriptSegmentsQuery,
    @RequestId() requestId: string,
  ): Promise<Page<TranscriptSegmentView>> {
    const scope = toCallerScope(caller);
    // The transcripts service alone would answer an empty page for a session the caller cannot see; the API answers 404.
    await this.services.request(GetSession, { scope, session_id: id }, requestId);
    return this.services.request(ListSessionTranscriptSegments, { scope, session_id: id, query }, requestId);
  }
}
