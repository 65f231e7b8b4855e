import { ApiProperty } from '@nestjs/swagger';
import { defineEvent } from '../common/define.js';
import { TRANSCRIPT_RETENTION_CLASSES, TRANSCRIPT_SEGMENT_KINDS, type TranscriptRetentionClass, type TranscriptSegmentKind } from './segment.dto.js';

/**
 * A segment was stored. Without its content (up to 256 KiB): a reader fetches it with
 * GetTranscriptSegment. The envelope names its tenant, owner, session and run, so streams show it.
 */
export class TranscriptSegmentCreatedData {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ enum: TRANSCRIPT_SEGMENT_KINDS }) kind!: TranscriptSegmentKind;
  @ApiProperty({ format: 'uuid', nullable: true, type: String }) session_id!: string | null;
  @ApiProperty({ format: 'uuid', nullable: true, type: String }) run_id!: string | null;
  @ApiProperty({ description: 'Bytes of content (UTF-8).' }) content_bytes!: number;
  @ApiProperty({ enum: TRANSCRIPT_RETENTION_CLASSES }) retention_class!: TranscriptRetentionClass;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) expires_at!: string | null;
  @ApiProperty({ format: 'uuid', nullable: true, type: String }) created_by!: string | null;
  @ApiProperty({ format: 'date-time' }) created_at!: string;
}
// Wire name: renaming a subject is a migration (see common/define.ts).
export const TranscriptSegmentCreated = defineEvent('transcripts.evt.segment.created.v1', TranscriptSegmentCreatedData);
