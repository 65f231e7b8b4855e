import { ApiProperty, OmitType } from '@nestjs/swagger';
import { ListRunsQuery, RunView, type Page } from '@runyard/contracts';

// OpenAPI shape of the list response (generic Page<T> has no runtime class to describe).
export class RunPageView implements Page<RunView> {
  @ApiProperty({ type: () => [RunView] }) data!: RunView[];
  @ApiProperty({ nullable: true, type: String, description: 'Pass as `cursor` for the next page; null on the last.' }) next_cursor!: string | null;
}

/** The runs list filters under `/v1/sessions/{id}/runs`: the path names the session, so the query may not. */
export class SessionRunsQuery extends OmitType(ListRunsQuery, ['session_id'] as const) {}
