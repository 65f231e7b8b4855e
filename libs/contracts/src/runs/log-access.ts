import { ApiProperty } from '@nestjs/swagger';
import { IsUUID } from 'class-validator';
import { defineCommand } from '../common/define.js';
import { RUN_STATUSES, type RunStatus } from './run.dto.js';

// Wire names: renaming a subject is a migration (see common/define.ts).

/**
 * A trusted service's question (the transcripts service, before it opens a run's log): does this run
 * exist in this tenant, who may read it, and has it ended? No caller scope — like the worker commands,
 * only services on the bus send it; the gateway never forwards it. NOT_FOUND when there is no such run.
 */
export class GetRunLogAccessPayload {
  @IsUUID()
  tenant_id!: string;

  @IsUUID()
  run_id!: string;
}

export class RunLogAccess {
  @ApiProperty({ format: 'uuid' }) run_id!: string;
  @ApiProperty({ format: 'uuid' }) tenant_id!: string;
  @ApiProperty({ format: 'uuid', description: 'The principal whose run it is (members see only their own).' }) owner_id!: string;
  @ApiProperty({ format: 'uuid', nullable: true, type: String }) session_id!: string | null;
  @ApiProperty({ enum: RUN_STATUSES }) status!: RunStatus;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) finished_at!: string | null;
}

export const GetRunLogAccess = defineCommand<RunLogAccess>()('runs.cmd.run.log_access.v1', GetRunLogAccessPayload);
