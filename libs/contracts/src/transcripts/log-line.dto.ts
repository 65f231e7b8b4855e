import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsDefined, IsIn, IsInt, IsISO8601, IsOptional, IsString, Matches, Max, MaxLength, Min, MinLength, ValidateNested } from 'class-validator';
import { MAX_PAGE_LIMIT } from '../common/pagination.js';
import { IsOptionalNotNull } from '../common/validators.js';

export const LOG_LINE_STREAMS = ['stdout', 'stderr', 'agent', 'system'] as const;
export type LogLineStream = (typeof LOG_LINE_STREAMS)[number];
export const LOG_LINE_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLineLevel = (typeof LOG_LINE_LEVELS)[number];

/** A line's text beyond this many bytes (UTF-8) is cut, marked, and the line flagged `truncated`. */
export const LOG_LINE_TEXT_MAX_BYTES = 16 * 1024;
/** Lines per batch (more: validation_failed). */
export const LOG_BATCH_MAX_LINES = 1000;
/** Text bytes per batch, before truncation (more: payload_too_large); keeps a batch inside one bus message. */
export const LOG_BATCH_MAX_BYTES = 512 * 1024;
/** Longest text a line may arrive with (it is stored cut to LOG_LINE_TEXT_MAX_BYTES). */
export const LINE_TEXT_MAX_CHARS = LOG_BATCH_MAX_BYTES;

/** One line as a producer sends it. */
export class LogLineInput {
  @ApiProperty({ enum: LOG_LINE_STREAMS })
  @IsIn(LOG_LINE_STREAMS)
  stream!: LogLineStream;

  @ApiPropertyOptional({ enum: LOG_LINE_LEVELS, default: 'info' })
  @IsOptionalNotNull()
  @IsIn(LOG_LINE_LEVELS)
  level?: LogLineLevel;

  @ApiPropertyOptional({ format: 'date-time', description: 'When the producer saw the line; default: when it was received.' })
  @IsOptionalNotNull()
  @IsISO8601({ strict: true })
  time?: string;

  @ApiProperty({ description: `The line. Longer than ${LOG_LINE_TEXT_MAX_BYTES} bytes (UTF-8), it is stored cut, ending in a marker, with \`truncated: true\`.` })
  @IsString()
  @MaxLength(LINE_TEXT_MAX_CHARS)
  text!: string;
}

export const PRODUCER_ID = /^[A-Za-z0-9][A-Za-z0-9._:/@-]*$/;
export const PRODUCER_ID_MAX_CHARS = 200;

/**
 * Who sends a batch, for idempotent retries: a batch with the producer id and batch_seq of one already
 * stored is not stored again, and gets the reply the first one got.
 */
export class LogProducer {
  @ApiProperty({ description: 'Stable per producer instance (a worker id, a process id…).', maxLength: PRODUCER_ID_MAX_CHARS })
  @IsString()
  @MinLength(1)
  @MaxLength(PRODUCER_ID_MAX_CHARS)
  @Matches(PRODUCER_ID)
  id!: string;

  @ApiProperty({ minimum: 0, description: 'Increases with each new batch of this producer; a retry repeats it.' })
  @IsInt()
  @Min(0)
  @Max(Number.MAX_SAFE_INTEGER)
  batch_seq!: number;
}

/** A batch of lines (`POST /v1/runs/{id}/logs` with JSON; NDJSON bodies become one of these). */
export class LogBatchBody {
  @ApiPropertyOptional({ type: () => LogProducer })
  @IsOptionalNotNull()
  @ValidateNested()
  @Type(() => LogProducer)
  producer?: LogProducer;

  @ApiProperty({ type: () => [LogLineInput], minItems: 1, maxItems: LOG_BATCH_MAX_LINES })
  @IsDefined()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(LOG_BATCH_MAX_LINES)
  @ValidateNested({ each: true })
  @Type(() => LogLineInput)
  lines!: LogLineInput[];
}

/** What a committed batch got. Sent only once the lines are durable in PostgreSQL. */
export class LogAppendResult {
  @ApiProperty({ description: 'seq of the first line stored; 0 when none was.' }) first_seq!: number;
  @ApiProperty({ description: 'seq of the last line stored (the limit marker included); 0 when none was.' }) last_seq!: number;
  @ApiProperty({ description: 'Lines of the batch stored.' }) accepted!: number;
  @ApiProperty({ description: 'Of those, lines stored cut to the per-line limit.' }) truncated!: number;
  @ApiProperty({ description: 'Lines of the batch refused because the run’s log reached its limit (then `limit_reached`).' }) refused!: number;
  @ApiProperty({ description: 'The run’s log is full: a system line "log truncated: limit reached" ends it and further lines are refused.' })
  limit_reached!: boolean;
}

/** One stored line. */
export class LogLineView {
  @ApiProperty({ format: 'uuid' }) run_id!: string;
  @ApiProperty({ description: 'Position in the run’s log: 1, 2, 3… with no gaps, in commit order.' }) seq!: number;
  @ApiProperty({ enum: LOG_LINE_STREAMS }) stream!: LogLineStream;
  @ApiProperty({ enum: LOG_LINE_LEVELS }) level!: LogLineLevel;
  @ApiProperty({ format: 'date-time', description: 'The producer’s timestamp.' }) time!: string;
  @ApiProperty() text!: string;
  @ApiProperty({ description: 'The text was cut to the per-line limit.' }) truncated!: boolean;
}

/** `GET /v1/runs/{id}/logs` filters; lines come in seq order. */
export class LogLinesQuery {
  @ApiPropertyOptional({ minimum: 1, maximum: MAX_PAGE_LIMIT, default: 100 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(MAX_PAGE_LIMIT)
  limit?: number;

  @ApiPropertyOptional({ description: 'Only lines after this seq (0: from the start).', minimum: 0 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(Number.MAX_SAFE_INTEGER)
  after_seq?: number;

  @ApiPropertyOptional({ description: 'The `next_cursor` of the previous page (the seq of its last line); wins over after_seq.', maxLength: 20 })
  @IsOptional()
  @IsString()
  @MaxLength(20)
  cursor?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'Only lines whose time is at or after this.' })
  @IsOptional()
  @IsISO8601({ strict: true })
  since?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'Only lines whose time is before this.' })
  @IsOptional()
  @IsISO8601({ strict: true })
  until?: string;

  @ApiPropertyOptional({ enum: LOG_LINE_STREAMS })
  @IsOptional()
  @IsIn(LOG_LINE_STREAMS)
  stream?: LogLineStream;
}

export const DEFAULT_LOG_PAGE_LIMIT = 100;

/** Where a run's log stands. */
export class LogStateView {
  @ApiProperty({ format: 'uuid' }) run_id!: string;
  @ApiProperty({ description: 'seq of the last line stored; 0 before the first.' }) last_seq!: number;
  @ApiProperty({ description: 'Bytes of text stored.' }) bytes!: number;
  @ApiProperty() limit_reached!: boolean;
  @ApiProperty({ description: 'The run ended and its log takes no more lines: last_seq is final.' }) closed!: boolean;
}
