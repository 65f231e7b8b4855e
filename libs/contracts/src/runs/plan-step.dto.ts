import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsIn, IsOptional, IsString, Matches, MaxLength, MinLength, ValidateNested } from 'class-validator';
import { IsJsonObject, IsOptionalNotNull } from '../common/validators.js';

export const PLAN_STEP_STATUSES = ['pending', 'in_progress', 'completed', 'failed', 'skipped'] as const;
export type PlanStepStatus = (typeof PLAN_STEP_STATUSES)[number];

/** Most plan steps one run may have; more is refused with validation_failed. */
export const PLAN_STEPS_PER_RUN_MAX = 200;
/** Most evidence items one plan step may carry. */
export const PLAN_STEP_EVIDENCE_MAX = 50;
const EVIDENCE_DATA_MAX_BYTES = 16 * 1024;

/**
 * A key the executor chooses for a step, a wait or a message, unique within its run. Asking again with
 * the same key returns what the first call made, so an executor that is re-run after a resume or a
 * retried claim does not duplicate anything.
 */
export const EXECUTOR_KEY = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$/;

/** Something that shows what a step did: text, a link, or structured data. */
export class Evidence {
  @ApiProperty({ description: 'What kind of evidence, e.g. `text`, `link`, `file`, `tool_output`.', maxLength: 50 })
  @IsString()
  @MinLength(1)
  @MaxLength(50)
  kind!: string;

  @ApiPropertyOptional({ maxLength: 10_000 })
  @IsOptionalNotNull()
  @IsString()
  @MaxLength(10_000)
  text?: string;

  @ApiPropertyOptional({ maxLength: 2000 })
  @IsOptionalNotNull()
  @IsString()
  @MaxLength(2000)
  url?: string;

  @ApiPropertyOptional({ type: 'object', additionalProperties: true })
  @IsOptionalNotNull()
  @IsJsonObject(EVIDENCE_DATA_MAX_BYTES)
  data?: Record<string, unknown>;
}

/** Evidence lists as they cross the bus: bounded, each item validated. */
export abstract class WithEvidence {
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(PLAN_STEP_EVIDENCE_MAX)
  @ValidateNested({ each: true })
  @Type(() => Evidence)
  evidence?: Evidence[];
}

export class PlanStepView {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ format: 'uuid' }) run_id!: string;
  @ApiProperty({ format: 'uuid' }) tenant_id!: string;
  @ApiProperty({ description: 'The executor’s key for the step, unique within the run.' }) key!: string;
  @ApiProperty({ description: 'Order within the run, from 1.' }) position!: number;
  @ApiProperty() title!: string;
  @ApiProperty({ enum: PLAN_STEP_STATUSES }) status!: PlanStepStatus;
  @ApiProperty({ type: () => [Evidence] }) evidence!: Evidence[];
  @ApiProperty({ format: 'date-time' }) created_at!: string;
  @ApiProperty({ format: 'date-time' }) updated_at!: string;
}

/** Whether `value` is a plan step status (UpsertPlanStep in commands.ts validates with PLAN_STEP_STATUSES). */
export function isPlanStepStatus(value: string): value is PlanStepStatus {
  return (PLAN_STEP_STATUSES as readonly string[]).includes(value);
}

export class PlanStepFields extends WithEvidence {
  @IsString()
  @Matches(EXECUTOR_KEY)
  key!: string;

  @IsOptionalNotNull()
  @IsString()
  @MinLength(1)
  @MaxLength(500)
  title?: string;

  @IsOptionalNotNull()
  @IsIn(PLAN_STEP_STATUSES)
  status?: PlanStepStatus;
}
