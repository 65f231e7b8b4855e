import { Body, Controller, Get, HttpCode, HttpStatus, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import {
  CreateRunTranscriptSegment,
  CreateTranscriptSegmentBody,
  GetRun,
  ListRunTranscriptSegments,
  ListTranscriptSegmentsQuery,
  TranscriptSegmentView,
  type Page,
} from '@runyard/contracts';
import { Audited } from '../audit/audited.decorator.js';
import { IdempotencyKey } from '../edge/idempotency/idempotency-key.decorator.js';
import { RequestId } from '../edge/request-id.decorator.js';
import { ServiceClient } from '../edge/service-client.js';
import { RunIdPipe } from '../edge/uuid-param.pipe.js';
import { Caller, toCallerScope, type AuthenticatedCaller } from '../identity/caller.js';
import { CREATE_SEGMENT_DESCRIPTION, LIST_SEGMENTS_DESCRIPTION, TranscriptSegmentPageView } from './transcript-segments.dto.js';

const RUN_ID = { name: 'id', format: 'uuid', description: 'Run id; unknown, foreign and malformed ids answer 404.' };

/** A run's transcript segments (its session's list shows them too). */
@ApiTags('transcripts')
@ApiBearerAuth()
@Controller('v1/runs/:id/transcript-segments')
export class RunTranscriptSegmentsController {
  constructor(private readonly services: ServiceClient) {}

  @Post()
  @HttpCode(HttpStatus.CREATED)
  @Audited('transcript_segment.create', 'transcript_segment')
  @ApiOperation({ summary: 'Add a transcript segment to a run', description: CREATE_SEGMENT_DESCRIPTION })
  @ApiParam(RUN_ID)
  @ApiCreatedResponse({ type: TranscriptSegmentView })
  create(
    @Caller() caller: AuthenticatedCaller,
    @Param('id', RunIdPipe) id: string,
    @Body() body: CreateTranscriptSegmentBody,
    @IdempotencyKey() idempotencyKey: string | undefined,
    @RequestId() requestId: string,
  ): Promise<TranscriptSegmentView> {
    const payload = { scope: toCallerScope(caller), run_id: id, body };
    return this.services.request(CreateRunTranscriptSegment, idempotencyKey === undefined ? payload : { ...payload, idempotency_key: `api:${idempotencyKey}` }, requestId);
  }

  @Get()
  @ApiOperation({ summary: 'List a run’s transcript segments', description: LIST_SEGMENTS_DESCRIPTION })
  @ApiParam(RUN_ID)
  @ApiOkResponse({ type: TranscriptSegmentPageView })
  async list(
    @Caller() caller: AuthenticatedCaller,
    @Param('id', RunIdPipe) id: string,
    @Query() query: ListTranscriptSegmentsQuery,
    @RequestId() requestId: string,
  ): Promise<Page<TranscriptSegmentView>> {
    const scope = toCallerScope(caller);
    // The transcripts service alone would answer an empty page for a run the caller cannot see; the API answers 404.
    await this.services.request(GetRun, { scope, run_id: id }, requestId);
    return this.services.request(ListRunTranscriptSegments, { scope, run_id: id, query }, requestId);
  }
}
