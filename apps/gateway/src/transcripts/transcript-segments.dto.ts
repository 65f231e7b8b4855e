import { ApiProperty } from '@nestjs/swagger';
import { TranscriptSegmentView, type Page } from '@runyard/contracts';
import { UuidParamPipe } from '../edge/uuid-param.pipe.js';

/** OpenAPI shape of a page of transcript segments (generic Page<T> has no runtime class to describe). */
export class TranscriptSegmentPageView implements Page<TranscriptSegmentView> {
  @ApiProperty({ type: () => [TranscriptSegmentView] }) data!: TranscriptSegmentView[];
  @ApiProperty({ nullable: true, type: String, description: 'Pass as `cursor` for the next page; null on the last.' })
  next_cursor!: string | null;
}

export const TranscriptSegmentIdPipe = new UuidParamPipe('transcript segment');

/** How a POST of a segment is described, on both of its routes. */
export const CREATE_SEGMENT_DESCRIPTION =
  'Stores a derived summary (`kind`: conversation, execution or summary; `content` up to 256 KiB; `metadata` a JSON object up to ' +
  '16 KiB), filed under a retention class (`transcripts` by default) with the `expires_at` its configured retention gives ' +
  '(null: kept). Not the raw chat: that stays with the session’s messages. Honours Idempotency-Key: a retry returns the original ' +
  'segment — from the gateway for 24 h, and from the transcripts service for as long as the segment exists (per principal).';

export const LIST_SEGMENTS_DESCRIPTION = 'Oldest first (reading order), optionally one `kind`; `cursor` pages on.';
