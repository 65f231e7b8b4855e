import { Controller, Get, Param } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { GetTranscriptSegment, TranscriptSegmentView } from '@runyard/contracts';
import { RequestId } from '../edge/request-id.decorator.js';
import { ServiceClient } from '../edge/service-client.js';
import { Caller, toCallerScope, type AuthenticatedCaller } from '../identity/caller.js';
import { TranscriptSegmentIdPipe } from './transcript-segments.dto.js';

/** One transcript segment by id, visible when its session or run is. */
@ApiTags('transcripts')
@ApiBearerAuth()
@Controller('v1/transcript-segments')
export class TranscriptSegmentsController {
  constructor(private readonly services: ServiceClient) {}

  @Get(':id')
  @ApiOperation({ summary: 'Get a transcript segment', description: 'With its content and retention metadata (`retention_class`, `expires_at`).' })
  @ApiParam({ name: 'id', format: 'uuid', description: 'Segment id; unknown, foreign and malformed ids answer 404.' })
  @ApiOkResponse({ type: TranscriptSegmentView })
  get(@Caller() caller: AuthenticatedCaller, @Param('id', TranscriptSegmentIdPipe) id: string, @RequestId() requestId: string): Promise<TranscriptSegmentView> {
    return this.services.request(GetTranscriptSegment, { scope: toCallerScope(caller), segment_id: id }, requestId);
  }
}
