import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsIn,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  IsUUID,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
  ValidateNested,
} from 'class-validator';
import { CreatedRangePageQuery } from '../common/pagination.js';
import { IsExclusiveWith, IsJsonObject, IsOptionalNotNull, MaxJsonBytes } from '../common/validators.js';
import { InputItem, MESSAGE_TEXT_MAX } from '../sessions/chat-message.dto.js';
import { ReplyTarget, RoutePolicy } from '../sessions/session.dto.js';
import { PlanStepView } from './plan-step.dto.js';
import { WaitView } from './wait.dto.js';

export const RUN_STATUSES = [
  'queued',
  'pending',
  'running',
  'waiting_for_approval',
  'waiting_for_input',
  'cancelling',
  'completed',
  'failed',
  'cancelled',
  'expired',
] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/** Statuses that hold the session slot (for top-level runs): at most one such run per session. */
export const ACTIVE_RUN_STATUSES: ReadonlySet<RunStatus> = new Set<RunStatus>(['pending', 'running', 'waiting_for_approval', 'waiting_for_input', 'cancelling']);
/** Immutable forever: nothing leaves them. */
export const TERMINAL_RUN_STATUSES: ReadonlySet<RunStatus> = new Set<RunStatus>(['completed', 'failed', 'cancelled', 'expired']);

export const RUN_SOURCES = ['api', 'chat', 'cli', 'channel', 'schedule', 'approval_resume', 'input_resume', 'subagent'] as const;
export type RunSource = (typeof RUN_SOURCES)[number];

/** What a new top-level run does when its session already has an active run. */
export const BUSY_POLICIES = ['enqueue', 'reject', 'interrupt'] as const;
export type BusyPolicy = (typeof BUSY_POLICIES)[number];

/** Why a run failed: its executor reported an error, its worker kept losing the lease, or it ran too long. */
export const FAILURE_CLASSES = ['error', 'crashed', 'timeout'] as const;
export type FailureClass = (typeof FAILURE_CLASSES)[number];

/** Which level of route precedence gave the run its route. */
export const ROUTE_SOURCES = ['run', 'session', 'default'] as const;
export type RouteSource = (typeof ROUTE_SOURCES)[number];

export const RUN_MAX_ATTEMPTS_LIMIT = 10;
export const RUN_DEFAULT_MAX_ATTEMPTS = 3;
const RUN_METADATA_MAX_BYTES = 16 * 1024;
export const RUN_OUTPUT_MAX_BYTES = 256 * 1024;
/**
 * Input and output both travel in every status-change event, which must stay below the outbox's
 * event limit (900 KiB); bounding each keeps every event of a run publishable.
 */
export const RUN_INPUT_MAX_BYTES = 256 * 1024;
/** `status=pending,running`: one or more statuses separated by commas. */
const STATUS_LIST = new RegExp(`^(${RUN_STATUSES.join('|')})(,(${RUN_STATUSES.join('|')}))*$`);

/** A new run: in a session (top-level), under a parent run (sub-run), or on its own. Input is text or parts, not both. */
export class CreateRunBody {
  @ApiPropertyOptional({ format: 'uuid', description: 'The session the run belongs to; a sub-run inherits its parent’s.' })
  @IsOptionalNotNull()
  @IsUUID()
  session_id?: string;

  @ApiPropertyOptional({ format: 'uuid', description: 'Makes this a sub-run of that run; sub-runs do not take the session slot.' })
  @IsOptionalNotNull()
  @IsUUID()
  parent_run_id?: string;

  @ApiPropertyOptional({ format: 'uuid' })
  @IsOptionalNotNull()
  @IsUUID()
  task_id?: string;

  @ApiPropertyOptional({ format: 'uuid' })
  @IsOptionalNotNull()
  @IsUUID()
  job_id?: string;

  @ApiPropertyOptional({ description: 'Plain text input; give this or input_items.' })
  @IsOptionalNotNull()
  @IsExclusiveWith('input_items')
  @IsString()
  @MinLength(1)
  @MaxLength(MESSAGE_TEXT_MAX)
  @MaxJsonBytes(RUN_INPUT_MAX_BYTES)
  input?: string;

  @ApiPropertyOptional({ type: () => [InputItem] })
  @IsOptionalNotNull()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(100)
  @MaxJsonBytes(RUN_INPUT_MAX_BYTES)
  @ValidateNested({ each: true })
  @Type(() => InputItem)
  input_items?: InputItem[];

  @ApiPropertyOptional({ enum: RUN_SOURCES, default: 'api' })
  @IsOptionalNotNull()
  @IsIn(RUN_SOURCES)
  source?: RunSource;

  @ApiPropertyOptional({ enum: BUSY_POLICIES, default: 'enqueue' })
  @IsOptionalNotNull()
  @IsIn(BUSY_POLICIES)
  busy_policy?: BusyPolicy;

  @ApiPropertyOptional({ type: () => RoutePolicy, description: 'Overrides the session’s route policy and the deployment default.' })
  @IsOptionalNotNull()
  @IsObject()
  @ValidateNested()
  @Type(() => RoutePolicy)
  route?: RoutePolicy;

  @ApiPropertyOptional({ type: 'object', additionalProperties: true })
  @IsOptionalNotNull()
  @IsJsonObject(RUN_METADATA_MAX_BYTES)
  metadata?: Record<string, unknown>;

  @ApiPropertyOptional({ minimum: 1, maximum: RUN_MAX_ATTEMPTS_LIMIT, default: RUN_DEFAULT_MAX_ATTEMPTS })
  @IsOptionalNotNull()
  @IsInt()
  @Min(1)
  @Max(RUN_MAX_ATTEMPTS_LIMIT)
  max_attempts?: number;

  @ApiPropertyOptional({ minimum: 1, description: 'A run not yet started (queued or pending) this long after creation expires.' })
  @IsOptionalNotNull()
  @IsInt()
  @Min(1)
  @Max(30 * 24 * 3600)
  ttl_seconds?: number;

  @ApiPropertyOptional({
    minimum: 1,
    description:
      'Longest a run may run in total before it fails with `timeout`: running time, from its first claim; time waiting for an answer ' +
      '(approval or input) does not count.',
  })
  @IsOptionalNotNull()
  @IsInt()
  @Min(1)
  @Max(7 * 24 * 3600)
  max_duration_seconds?: number;
}

export class ListRunsQuery extends CreatedRangePageQuery {
  @ApiPropertyOptional({ format: 'uuid' })
  @IsOptional()
  @IsUUID()
  session_id?: string;

  @ApiPropertyOptional({ format: 'uuid' })
  @IsOptional()
  @IsUUID()
  parent_run_id?: string;

  @ApiPropertyOptional({ format: 'uuid' })
  @IsOptional()
  @IsUUID()
  task_id?: string;

  @ApiPropertyOptional({ format: 'uuid' })
  @IsOptional()
  @IsUUID()
  job_id?: string;

  @ApiPropertyOptional({ description: 'One or more statuses separated by commas, e.g. `pending,running`.', example: 'pending,running' })
  @IsOptional()
  @IsString()
  @Matches(STATUS_LIST, { message: `status must be one or more of ${RUN_STATUSES.join(', ')} separated by commas` })
  status?: string;

  @ApiPropertyOptional({ enum: RUN_SOURCES })
  @IsOptional()
  @IsIn(RUN_SOURCES)
  source?: RunSource;
}

export class CancelRunBody {
  @ApiPropertyOptional({ maxLength: 1000 })
  @IsOptional()
  @IsString()
  @MaxLength(1000)
  reason?: string;
}

/** The route a run was pinned to at creation. The executor is always set (the deployment default fills it in). */
export class RunRoute {
  @ApiPropertyOptional() provider?: string;
  @ApiPropertyOptional() model?: string;
  @ApiProperty() executor!: string;
}

export class RunView {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ format: 'uuid' }) tenant_id!: string;
  @ApiProperty({ format: 'uuid', description: 'The principal that owns the run (its session’s owner).' }) owner_id!: string;
  @ApiProperty({ format: 'uuid', description: 'The principal that created it.' }) created_by!: string;
  @ApiProperty({ format: 'uuid', nullable: true, type: String }) session_id!: string | null;
  @ApiProperty({ format: 'uuid', nullable: true, type: String }) parent_run_id!: string | null;
  @ApiProperty({ format: 'uuid', nullable: true, type: String }) task_id!: string | null;
  @ApiProperty({ format: 'uuid', nullable: true, type: String }) job_id!: string | null;
  @ApiProperty({ enum: RUN_SOURCES }) source!: RunSource;
  @ApiProperty({ enum: RUN_STATUSES }) status!: RunStatus;
  @ApiProperty({ nullable: true, type: Number, description: 'Place in the session’s queue from 1; only while queued.' })
  queue_position!: number | null;
  @ApiProperty({ nullable: true, type: String }) input!: string | null;
  @ApiProperty({ type: () => [InputItem], nullable: true }) input_items!: InputItem[] | null;
  @ApiProperty({ type: () => RunRoute }) route!: RunRoute;
  @ApiProperty({ enum: ROUTE_SOURCES }) route_source!: RouteSource;
  @ApiProperty({ type: () => [ReplyTarget], description: 'The session’s reply targets when the run was created.' }) reply_targets!: ReplyTarget[];
  @ApiProperty({ type: 'object', additionalProperties: true }) metadata!: Record<string, unknown>;
  @ApiProperty({
    description:
      'Claims that count against max_attempts (0 until a worker first claims it): a claim its worker gave back (release) or that ' +
      'ended in a wait which was answered does not count, so only lost leases use attempts up.',
  })
  attempt!: number;
  @ApiProperty() max_attempts!: number;
  @ApiProperty({ nullable: true, type: Number }) ttl_seconds!: number | null;
  @ApiProperty({ nullable: true, type: Number }) max_duration_seconds!: number | null;
  @ApiProperty({ nullable: true, type: String, description: 'The worker holding (or last holding) the lease.' }) worker_id!: string | null;
  @ApiProperty({
    nullable: true,
    type: String,
    pattern: '^[0-9a-f]{32}$',
    description: 'The W3C trace id of the request that created the run (its `traceparent`); the run’s events and its worker’s requests carry it.',
  })
  trace_id!: string | null;
  @ApiProperty({
    nullable: true,
    type: String,
    pattern: '^[0-9a-f]{16}$',
    description:
      'The span of the request that created the run, as the runs service handled it (set with `trace_id`): the parent of the root ' +
      'span of each of the run’s executions, so one parent chain leads from the request to the work it caused.',
  })
  trace_parent_span_id!: string | null;
  @ApiProperty({ type: 'object', additionalProperties: true, nullable: true }) output!: Record<string, unknown> | null;
  @ApiProperty({ enum: FAILURE_CLASSES, nullable: true }) failure_class!: FailureClass | null;
  @ApiProperty({ nullable: true, type: String }) failure_message!: string | null;
  @ApiProperty({ nullable: true, type: String }) cancel_reason!: string | null;
  @ApiProperty({ format: 'uuid', nullable: true, type: String }) cancelled_by!: string | null;
  @ApiProperty({ format: 'date-time' }) created_at!: string;
  @ApiProperty({ format: 'date-time' }) updated_at!: string;
  @ApiProperty({ format: 'date-time', nullable: true, type: String, description: 'First claimed.' }) started_at!: string | null;
  @ApiProperty({ format: 'date-time', nullable: true, type: String, description: 'Reached a terminal status.' }) finished_at!: string | null;
  @ApiProperty({ format: 'date-time', nullable: true, type: String, description: 'Queued or pending past this, it expires.' })
  expires_at!: string | null;
}

/**
 * Most bytes a claim's reply (a ClaimedRun as JSON) may have: the bus's messages are limited (NATS: 1
 * MiB by default), and the rest is headroom for the reply's envelope.
 */
export const CLAIMED_RUN_MAX_BYTES = 900 * 1024;

/**
 * What a worker gets from a claim: the run, the lease it must present with every write, and what the
 * run already has — its plan steps and its waits (answered ones carry the answers a resumed run
 * continues with). An executor re-run after a resume or a retry finds its earlier work by key.
 *
 * Everything is handed over whole (steps with their evidence, waits with prompt, details, schema and
 * answer), and what a run can accumulate is bounded (input, PLAN_STEPS_PER_RUN_MAX steps with a
 * per-run evidence budget, WAITS_PER_RUN_MAX waits). Those bounds alone still allow a reply above
 * CLAIMED_RUN_MAX_BYTES, so the claim measures it: a run whose claim would be larger is failed
 * (failure_class `error`, the message says why) in place of being handed out, and the worker gets the
 * next pending run instead — never a reply the bus cannot carry, after the run was already claimed.
 */
export class ClaimedRun {
  @ApiProperty({ type: () => RunView }) run!: RunView;
  @ApiProperty({ description: 'Fencing token: a write with any other token is refused with lease_lost.' }) lease_token!: number;
  @ApiProperty({ format: 'date-time' }) lease_expires_at!: string;
  @ApiProperty({ type: () => [PlanStepView] }) steps!: PlanStepView[];
  @ApiProperty({ type: () => [WaitView] }) waits!: WaitView[];
}

/** What answering a wait returns: the answered wait and its run, pending again so a worker resumes it. */
export class AnsweredWait {
  @ApiProperty({ type: () => WaitView }) wait!: WaitView;
  @ApiProperty({ type: () => RunView }) run!: RunView;
}

export class LeaseRenewal {
  @ApiProperty({ format: 'date-time' }) lease_expires_at!: string;
  @ApiProperty({ description: 'A cancel was requested: stop the run and call FinishCancel.' }) cancel_requested!: boolean;
}
