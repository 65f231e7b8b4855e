import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, MinLength, registerDecorator, type ValidationArguments } from 'class-validator';
import { PageQuery } from '../common/pagination.js';
import { IsJsonObject, IsOptionalNotNull } from '../common/validators.js';

/**
 * What a segment summarises: a stretch of the conversation, what a run did, or a summary of either.
 * A segment is derived and stored for reading back; the raw chat stays in the sessions service.
 */
export const TRANSCRIPT_SEGMENT_KINDS = ['conversation', 'execution', 'summary'] as const;
export type TranscriptSegmentKind = (typeof TRANSCRIPT_SEGMENT_KINDS)[number];

/**
 * Retention data classes a segment may be filed under; each has a retention period configured in
 * the transcripts service (TRANSCRIPT_RETENTION_DAYS for `transcripts`). The retention service's
 * per-tenant policies come on top of these later.
 */
export const TRANSCRIPT_RETENTION_CLASSES = ['transcripts'] as const;
export type TranscriptRetentionClass = (typeof TRANSCRIPT_RETENTION_CLASSES)[number];
export const DEFAULT_TRANSCRIPT_RETENTION_CLASS: TranscriptRetentionClass = 'transcripts';

/** Bytes (UTF-8) of a segment's content. */
export const TRANSCRIPT_SEGMENT_CONTENT_MAX_BYTES = 256 * 1024;
/** Bytes of a segment's metadata, as JSON. */
export const TRANSCRIPT_SEGMENT_METADATA_MAX_BYTES = 16 * 1024;

/** A string of at most `maxBytes` in UTF-8 (a character limit would let multi-byte text through several times over). */
function MaxUtf8Bytes(maxBytes: number): PropertyDecorator {
  return (target: object, propertyName: string | symbol) => {
    registerDecorator({
      name: 'maxUtf8Bytes',
      target: target.constructor,
      propertyName: String(propertyName),
      constraints: [maxBytes],
      validator: {
        validate: (value: unknown) => typeof value === 'string' && Buffer.byteLength(value, 'utf8') <= maxBytes,
        defaultMessage: (args: ValidationArguments) => `${args.property} must be at most ${String(args.constraints[0])} bytes (UTF-8)`,
      },
    });
  };
}

/** The segment itself, as a principal (`POST …/transcript-segments`) or a worker sends it. */
export class TranscriptSegmentFields {
  @ApiProperty({ enum: TRANSCRIPT_SEGMENT_KINDS })
  @IsIn(TRANSCRIPT_SEGMENT_KINDS)
  kind!: TranscriptSegmentKind;

  @ApiProperty({ description: `The summary text, 1 character to ${TRANSCRIPT_SEGMENT_CONTENT_MAX_BYTES} bytes (UTF-8).` })
  @IsString()
  @MinLength(1)
  @MaxUtf8Bytes(TRANSCRIPT_SEGMENT_CONTENT_MAX_BYTES)
  content!: string;

  @ApiPropertyOptional({ type: 'object', additionalProperties: true, description: `A JSON object of at most ${TRANSCRIPT_SEGMENT_METADATA_MAX_BYTES} bytes; default {}.` })
  @IsOptionalNotNull()
  @IsJsonObject(TRANSCRIPT_SEGMENT_METADATA_MAX_BYTES)
  metadata?: Record<string, unknown>;
}

/** `POST /v1/sessions/{id}/transcript-segments` and `POST /v1/runs/{id}/transcript-segments`. */
export class CreateTranscriptSegmentBody extends TranscriptSegmentFields {
  @ApiPropertyOptional({ enum: TRANSCRIPT_RETENTION_CLASSES, default: DEFAULT_TRANSCRIPT_RETENTION_CLASS, description: 'Decides `expires_at`.' })
  @IsOptionalNotNull()
  @IsIn(TRANSCRIPT_RETENTION_CLASSES)
  retention_class?: TranscriptRetentionClass;
}

/** One stored segment. */
export class TranscriptSegmentView {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ format: 'uuid' }) tenant_id!: string;
  @ApiProperty({ enum: TRANSCRIPT_SEGMENT_KINDS }) kind!: TranscriptSegmentKind;
  @ApiProperty({ format: 'uuid', nullable: true, type: String, description: 'The session it belongs to: the one it was written for, or its run’s.' })
  session_id!: string | null;
  @ApiProperty({ format: 'uuid', nullable: true, type: String, description: 'The run it was written for; null for a session’s own segment.' })
  run_id!: string | null;
  @ApiProperty() content!: string;
  @ApiProperty({ type: 'object', additionalProperties: true }) metadata!: Record<string, unknown>;
  @ApiProperty({ enum: TRANSCRIPT_RETENTION_CLASSES }) retention_class!: TranscriptRetentionClass;
  @ApiProperty({ format: 'date-time', nullable: true, type: String, description: 'When retention may delete it; null: kept until a policy says otherwise.' })
  expires_at!: string | null;
  @ApiProperty({ format: 'uuid', nullable: true, type: String, description: 'The principal that wrote it; null when the run’s worker did.' })
  created_by!: string | null;
  @ApiProperty({ format: 'date-time' }) created_at!: string;
}

/** `GET …/transcript-segments`: oldest first (reading order), keyset-paginated; optionally one kind. */
export class ListTranscriptSegmentsQuery extends PageQuery {
  @ApiPropertyOptional({ enum: TRANSCRIPT_SEGMENT_KINDS })
  @IsOptional()
  @IsIn(TRANSCRIPT_SEGMENT_KINDS)
  kind?: TranscriptSegmentKind;
}
