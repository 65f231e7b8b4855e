import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsDefined, IsOptional, IsString, MaxLength } from 'class-validator';
import { IsJsonObject } from '../common/validators.js';

/** An approval pauses for a yes/no decision; an input request for a structured answer. */
export const WAIT_KINDS = ['approval', 'input'] as const;
export type WaitKind = (typeof WAIT_KINDS)[number];

/** `open` until answered; `expired` when its timeout passed (the run expired too); `cancelled` with its run. */
export const WAIT_STATUSES = ['open', 'answered', 'expired', 'cancelled'] as const;
export type WaitStatus = (typeof WAIT_STATUSES)[number];

/** How a wait was answered: approve / deny for approvals, respond for input requests. */
export const WAIT_DECISIONS = ['approved', 'denied', 'responded'] as const;
export type WaitDecision = (typeof WAIT_DECISIONS)[number];

export const WAIT_ANSWER_MAX_BYTES = 64 * 1024;
export const WAIT_TIMEOUT_MAX_SECONDS = 30 * 24 * 3600;
/**
 * Most waits one run may open; RequestWait with a new key past it is refused with validation_failed.
 * Every claim hands the run's waits to the worker in one reply (see ClaimedRun), so they are bounded.
 */
export const WAITS_PER_RUN_MAX = 20;

export class WaitAnswer {
  @ApiProperty({ enum: WAIT_DECISIONS }) decision!: WaitDecision;
  @ApiProperty({ nullable: true, type: String }) reason!: string | null;
  @ApiProperty({ type: 'object', additionalProperties: true, nullable: true, description: 'The answer to an input request.' })
  input!: Record<string, unknown> | null;
}

export class WaitView {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ format: 'uuid' }) run_id!: string;
  @ApiProperty({ format: 'uuid' }) tenant_id!: string;
  @ApiProperty({ description: 'The executor’s key for the wait, unique within the run.' }) key!: string;
  @ApiProperty({ enum: WAIT_KINDS }) kind!: WaitKind;
  @ApiProperty({ enum: WAIT_STATUSES }) status!: WaitStatus;
  @ApiProperty() prompt!: string;
  @ApiProperty({ type: 'object', additionalProperties: true, nullable: true, description: 'What is to be approved (the action and its arguments).' })
  details!: Record<string, unknown> | null;
  @ApiProperty({ type: 'object', additionalProperties: true, nullable: true, description: 'JSON Schema the answer to an input request must satisfy.' })
  schema!: Record<string, unknown> | null;
  @ApiProperty({ type: () => WaitAnswer, nullable: true }) answer!: WaitAnswer | null;
  @ApiProperty({ format: 'uuid', nullable: true, type: String }) answered_by!: string | null;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) answered_at!: string | null;
  @ApiProperty({ format: 'date-time', nullable: true, type: String, description: 'Unanswered by then, the wait and its run expire.' })
  timeout_at!: string | null;
  @ApiProperty({ format: 'date-time' }) created_at!: string;
  @ApiProperty({ format: 'date-time' }) updated_at!: string;
}

// ---- HTTP bodies of the answers ----

export class ApproveWaitBody {
  @ApiPropertyOptional({ maxLength: 1000, description: 'A note for the agent and the audit log.' })
  @IsOptional()
  @IsString()
  @MaxLength(1000)
  reason?: string;
}

export class DenyWaitBody {
  @ApiPropertyOptional({ maxLength: 1000, description: 'Why; the agent gets it with the denial.' })
  @IsOptional()
  @IsString()
  @MaxLength(1000)
  reason?: string;
}

export class RespondWaitBody {
  @ApiProperty({ type: 'object', additionalProperties: true, description: 'The answer; must satisfy the wait’s `schema` when it has one.' })
  @IsDefined()
  @IsJsonObject(WAIT_ANSWER_MAX_BYTES)
  input!: Record<string, unknown>;
}
