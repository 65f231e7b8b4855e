import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { PlanStepView, WaitView, type EventEnvelope, type Page } from '@runyard/contracts';

// OpenAPI shapes of the run sub-resource lists (generic Page<T> has no runtime class to describe).

const NEXT_CURSOR = 'Pass as `cursor` for the next page; null on the last.';

export class PlanStepPageView implements Page<PlanStepView> {
  @ApiProperty({ type: () => [PlanStepView] }) data!: PlanStepView[];
  @ApiProperty({ nullable: true, type: String, description: NEXT_CURSOR }) next_cursor!: string | null;
}

export class WaitPageView implements Page<WaitView> {
  @ApiProperty({ type: () => [WaitView] }) data!: WaitView[];
  @ApiProperty({ nullable: true, type: String, description: NEXT_CURSOR }) next_cursor!: string | null;
}

/** One event as the runs service committed (and published) it. */
export class RunEventView implements EventEnvelope<Record<string, unknown>> {
  @ApiProperty({ format: 'uuid', description: 'The event id (UUIDv7); the same id the live streams carry.' }) id!: string;
  @ApiProperty({ description: 'What happened, e.g. `runs.evt.run.status_changed.v1`, `runs.evt.wait.opened.v1`.' }) subject!: string;
  @ApiProperty({ format: 'uuid' }) tenant_id!: string;
  @ApiPropertyOptional({ format: 'uuid' }) owner_id?: string;
  @ApiPropertyOptional({ format: 'uuid' }) session_id?: string;
  @ApiPropertyOptional({ format: 'uuid' }) run_id?: string;
  @ApiProperty({ format: 'date-time' }) occurred_at!: string;
  @ApiProperty({ type: 'object', additionalProperties: true, description: 'The payload of `subject`.' }) data!: Record<string, unknown>;
}

export class RunEventPageView implements Page<RunEventView> {
  @ApiProperty({ type: () => [RunEventView] }) data!: RunEventView[];
  @ApiProperty({ nullable: true, type: String, description: NEXT_CURSOR }) next_cursor!: string | null;
}
