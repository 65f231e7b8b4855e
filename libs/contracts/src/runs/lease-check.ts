import { ApiProperty } from '@nestjs/swagger';
import { defineCommand } from '../common/define.js';
import { LeaseHeld } from './commands.js';

// Wire names: renaming a subject is a migration (see common/define.ts).

/**
 * A trusted service's question before it stores a worker's write for a run (the transcripts service,
 * for PostRunTranscriptSegment): does this worker hold the run's lease? Answered through the same fence
 * as the runs service's own executor writes: NOT_FOUND, RUN_TERMINAL, LEASE_LOST, and CONFLICT once a
 * cancel was requested. No caller scope — only services on the bus send it; the gateway never does.
 */
export class CheckRunLeasePayload extends LeaseHeld {}

/** The lease holds until `lease_expires_at` (unless renewed); only then can another worker take the run over. */
export class RunLeaseCheck {
  @ApiProperty({ format: 'uuid' }) run_id!: string;
  @ApiProperty({ format: 'uuid' }) tenant_id!: string;
  @ApiProperty({ format: 'uuid', description: 'The principal whose run it is (members see only their own).' }) owner_id!: string;
  @ApiProperty({ format: 'uuid', nullable: true, type: String }) session_id!: string | null;
  @ApiProperty({ format: 'date-time' }) lease_expires_at!: string;
}

export const CheckRunLease = defineCommand<RunLeaseCheck>()('runs.cmd.run.check_lease.v1', CheckRunLeasePayload);
