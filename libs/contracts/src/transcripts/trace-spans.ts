import { ApiProperty } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsDefined, IsIn, IsISO8601, IsString, IsUUID, Matches, MaxLength, MinLength, ValidateNested } from 'class-validator';
import { defineCommand } from '../common/define.js';
import { ScopedPayload } from '../common/scope.js';
import { IsJsonObject, IsOptionalNotNull } from '../common/validators.js';

export const TRACE_SPAN_KINDS = ['tool_call', 'model_call', 'approval', 'state_change', 'internal'] as const;
export type TraceSpanKind = (typeof TRACE_SPAN_KINDS)[number];
export const TRACE_SPAN_STATUSES = ['ok', 'error', 'unset'] as const;
export type TraceSpanStatus = (typeof TRACE_SPAN_STATUSES)[number];

/** A span's attributes, as JSON, at most this many bytes (the worker library cuts them to fit). */
export const TRACE_SPAN_ATTRIBUTES_MAX_BYTES = 8 * 1024;
export const TRACE_SPAN_NAME_MAX_CHARS = 200;
export const TRACE_SPAN_STATUS_MESSAGE_MAX_CHARS = 2000;
/** Spans per RecordTraceSpans batch (more: validation_failed). */
export const TRACE_SPAN_BATCH_MAX_SPANS = 200;
/** A batch as JSON, at most (more: payload_too_large); keeps it inside one bus message. */
export const TRACE_SPAN_BATCH_MAX_BYTES = 512 * 1024;
/** `GET /v1/runs/{id}/trace` answers at most this many bytes of JSON; past it the tree is cut (`truncated: true`). */
export const RUN_TRACE_REPLY_MAX_BYTES = 768 * 1024;

const TRACE_ID = /^[0-9a-f]{32}$/;
const SPAN_ID = /^[0-9a-f]{16}$/;

/**
 * One span as the worker library sends it: when it starts (no end, status `unset`) and again when it
 * ends, or once, ended. Recording is an upsert on (run, span_id): the first end and the first status
 * other than `unset` stick, attributes are merged.
 */
export class TraceSpanInput {
  @Matches(TRACE_ID, { message: 'trace_id must be 32 lowercase hex digits' })
  trace_id!: string;

  @Matches(SPAN_ID, { message: 'span_id must be 16 lowercase hex digits' })
  span_id!: string;

  @IsOptionalNotNull()
  @Matches(SPAN_ID, { message: 'parent_span_id must be 16 lowercase hex digits' })
  parent_span_id?: string;

  @IsString()
  @MinLength(1)
  @MaxLength(TRACE_SPAN_NAME_MAX_CHARS)
  name!: string;

  @IsIn(TRACE_SPAN_KINDS)
  kind!: TraceSpanKind;

  @IsOptionalNotNull()
  @IsJsonObject(TRACE_SPAN_ATTRIBUTES_MAX_BYTES)
  attributes?: Record<string, unknown>;

  @IsISO8601({ strict: true })
  start_time!: string;

  @IsOptionalNotNull()
  @IsISO8601({ strict: true })
  end_time?: string;

  @IsIn(TRACE_SPAN_STATUSES)
  status!: TraceSpanStatus;

  @IsOptionalNotNull()
  @IsString()
  @MaxLength(TRACE_SPAN_STATUS_MESSAGE_MAX_CHARS)
  status_message?: string;
}

// Wire names: renaming a subject is a migration (see common/define.ts).

/**
 * Records a batch of a run's spans (workers; trusted like the other worker commands: no caller
 * scope, the run named by tenant and id). Idempotent: a span sent again updates its end, status and
 * attributes. A run's trace holds a bounded number of spans: updates of recorded spans are always
 * taken, new spans past the limit are refused (counted in `refused`, with `limit_reached`), and a
 * batch none of whose spans could be taken is answered PAYLOAD_TOO_LARGE. A run's first batch is
 * taken once the runs service confirms the run in the tenant (and says whose it is): an unknown run
 * is NOT_FOUND. A span id of one run never moves to another run or tenant (NOT_FOUND).
 */
export class RecordTraceSpansPayload {
  @IsUUID()
  tenant_id!: string;

  @IsUUID()
  run_id!: string;

  @IsDefined()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(TRACE_SPAN_BATCH_MAX_SPANS)
  @ValidateNested({ each: true })
  @Type(() => TraceSpanInput)
  spans!: TraceSpanInput[];
}

export interface TraceSpansRecorded {
  /** Spans of the batch stored (new or updated). */
  recorded: number;
  /** New spans of the batch refused: the run's trace is full. */
  refused: number;
  /** The run's trace holds as many spans as it may: new spans are refused from now on. */
  limit_reached: boolean;
}
export const RecordTraceSpans = defineCommand<TraceSpansRecorded>()('transcripts.cmd.spans.record.v1', RecordTraceSpansPayload);

/** One span of a run's trace tree, with its children in start order. */
export class TraceSpanNode {
  @ApiProperty({ description: '16 hex digits.' }) span_id!: string;
  @ApiProperty({ nullable: true, type: String, description: 'The parent span, when it is recorded; null for a root (a span whose parent is not in this run’s trace is a root too).' })
  parent_span_id!: string | null;
  @ApiProperty() name!: string;
  @ApiProperty({ enum: TRACE_SPAN_KINDS }) kind!: TraceSpanKind;
  @ApiProperty({ enum: TRACE_SPAN_STATUSES }) status!: TraceSpanStatus;
  @ApiProperty({ nullable: true, type: String }) status_message!: string | null;
  @ApiProperty({ format: 'date-time' }) start_time!: string;
  @ApiProperty({ format: 'date-time', nullable: true, type: String, description: 'null while the span is open.' }) end_time!: string | null;
  @ApiProperty({ nullable: true, type: Number, description: 'end_time − start_time; null while the span is open.' }) duration_ms!: number | null;
  @ApiProperty({ type: 'object', additionalProperties: true }) attributes!: Record<string, unknown>;
  @ApiProperty({ type: () => [TraceSpanNode] }) children!: TraceSpanNode[];
}

/** A run's trace as a tree: roots in start order. */
export class RunTraceView {
  @ApiProperty({ format: 'uuid' }) run_id!: string;
  @ApiProperty({ nullable: true, type: String, description: 'The W3C trace id of the run’s spans (that of the request that created the run); null before any span.' })
  trace_id!: string | null;
  @ApiProperty({ description: 'Spans recorded for the run.' }) span_count!: number;
  @ApiProperty({ type: () => [TraceSpanNode] }) spans!: TraceSpanNode[];
  @ApiProperty({ description: `The tree was cut to keep the answer under ${RUN_TRACE_REPLY_MAX_BYTES} bytes: it holds the spans that came first (parents before children).` })
  truncated!: boolean;
  @ApiProperty({ description: 'The run’s trace reached its span limit: spans recorded after that were refused.' })
  limit_reached!: boolean;
}

/**
 * A run's trace tree. The caller's visibility of the run is checked by the gateway (GetRun) first;
 * the transcripts service scopes again, by tenant and owner: a member asking for another principal's
 * run's trace gets NOT_FOUND (as for an unknown run). A run without spans has an empty trace.
 */
export class GetRunTracePayload extends ScopedPayload {
  @IsUUID()
  run_id!: string;
}
export const GetRunTrace = defineCommand<RunTraceView>()('transcripts.cmd.trace.get.v1', GetRunTracePayload);
