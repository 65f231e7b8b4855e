import { ApiProperty } from '@nestjs/swagger';
import { defineEvent } from '../common/define.js';
import { IsString, IsUUID, Matches, MaxLength, MinLength } from 'class-validator';
import { IsJsonObject, IsOptionalNotNull } from '../common/validators.js';
import { MESSAGE_TEXT_MAX } from '../sessions/chat-message.dto.js';
import { EXECUTOR_KEY, PlanStepView } from './plan-step.dto.js';
import { RUN_STATUSES, RunView, type RunStatus } from './run.dto.js';
import { WaitView } from './wait.dto.js';

export class RunStatusChangedData {
  @ApiProperty({ type: () => RunView, description: 'The run after the change.' }) run!: RunView;
  @ApiProperty({ enum: RUN_STATUSES }) from!: RunStatus;
  @ApiProperty({ enum: RUN_STATUSES }) to!: RunStatus;
}

export class RunProgressData {
  @ApiProperty({ format: 'uuid' }) run_id!: string;
  @ApiProperty({ nullable: true, type: String }) message!: string | null;
  @ApiProperty({ type: 'object', additionalProperties: true, nullable: true }) data!: Record<string, unknown> | null;
}

/** Validated by its consumer (the sessions service) like any inbound message. */
export class RunMessageData {
  @ApiProperty({ format: 'uuid' })
  @IsUUID()
  run_id!: string;

  @ApiProperty({ format: 'uuid' })
  @IsUUID()
  session_id!: string;

  @ApiProperty({ description: 'The executor’s key: one chat message per (run, key).' })
  @IsString()
  @Matches(EXECUTOR_KEY)
  key!: string;

  @ApiProperty()
  @IsString()
  @MinLength(1)
  @MaxLength(MESSAGE_TEXT_MAX)
  content!: string;

  @ApiProperty({ type: 'object', additionalProperties: true })
  @IsOptionalNotNull()
  @IsJsonObject(16 * 1024)
  metadata!: Record<string, unknown>;
}

// Wire names: renaming a subject is a migration (see common/define.ts).
export const RunCreated = defineEvent('runs.evt.run.created.v1', RunView);
export const RunStatusChanged = defineEvent('runs.evt.run.status_changed.v1', RunStatusChangedData);
export const PlanStepAdded = defineEvent('runs.evt.plan_step.added.v1', PlanStepView);
export const PlanStepUpdated = defineEvent('runs.evt.plan_step.updated.v1', PlanStepView);
/** A wait was opened: the run is waiting_for_approval or waiting_for_input. */
export const WaitOpened = defineEvent('runs.evt.wait.opened.v1', WaitView);
/** A wait was answered, expired or cancelled (see its status). */
export const WaitClosed = defineEvent('runs.evt.wait.closed.v1', WaitView);
export const RunProgressed = defineEvent('runs.evt.run.progress.v1', RunProgressData);
/** An assistant message a run posted; the sessions service appends it to the session's chat. */
export const RunMessagePosted = defineEvent('runs.evt.run.message_posted.v1', RunMessageData);
