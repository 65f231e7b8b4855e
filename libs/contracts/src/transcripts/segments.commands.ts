import { Type } from 'class-transformer';
import { IsDefined, IsInt, IsString, IsUUID, Matches, Min, ValidateNested } from 'class-validator';
import { defineCommand } from '../common/define.js';
import type { Page } from '../common/pagination.js';
import { ScopedPayload } from '../common/scope.js';
import { IsOptionalNotNull } from '../common/validators.js';
import { EXECUTOR_KEY } from '../runs/plan-step.dto.js';
import {
  CreateTranscriptSegmentBody,
  ListTranscriptSegmentsQuery,
  TranscriptSegmentFields,
  type TranscriptSegmentView,
} from './segment.dto.js';

// Wire names: renaming a subject is a migration (see common/define.ts).

// ---- Caller commands: on behalf of a principal (members: only their own sessions and runs) ----

/** A client's Idempotency-Key, in the gateway's namespace (`api:`), as runs take it. */
const IDEMPOTENCY_KEY = /^api:[\x20-\x7e]{1,255}$/;

abstract class CreateSegment extends ScopedPayload {
  @IsDefined()
  @ValidateNested()
  @Type(() => CreateTranscriptSegmentBody)
  body!: CreateTranscriptSegmentBody;

  /**
   * `api:<Idempotency-Key>`. A create with a key this principal already used in the tenant returns
   * that segment and stores nothing — for the same body (and target); otherwise idempotency_key_reused.
   */
  @IsOptionalNotNull()
  @IsString()
  @Matches(IDEMPOTENCY_KEY, { message: 'idempotency_key must be `api:` followed by 1 to 255 printable ASCII characters' })
  idempotency_key?: string;
}

/** A segment for a session the caller can see (asked of the sessions service: NOT_FOUND otherwise). */
export class CreateSessionTranscriptSegmentPayload extends CreateSegment {
  @IsUUID()
  session_id!: string;
}
export const CreateSessionTranscriptSegment = defineCommand<TranscriptSegmentView>()(
  'transcripts.cmd.segment.create_for_session.v1',
  CreateSessionTranscriptSegmentPayload,
);

/** A segment for a run the caller can see (asked of the runs service: NOT_FOUND otherwise). */
export class CreateRunTranscriptSegmentPayload extends CreateSegment {
  @IsUUID()
  run_id!: string;
}
export const CreateRunTranscriptSegment = defineCommand<TranscriptSegmentView>()('transcripts.cmd.segment.create_for_run.v1', CreateRunTranscriptSegmentPayload);

abstract class ListSegments extends ScopedPayload {
  @IsDefined()
  @ValidateNested()
  @Type(() => ListTranscriptSegmentsQuery)
  query!: ListTranscriptSegmentsQuery;
}

/**
 * The session's segments — its own and its runs' — oldest first. Scoped by the rows' tenant and owner:
 * a session the caller cannot see lists empty here, so the gateway asks GetSession first (404).
 */
export class ListSessionTranscriptSegmentsPayload extends ListSegments {
  @IsUUID()
  session_id!: string;
}
export const ListSessionTranscriptSegments = defineCommand<Page<TranscriptSegmentView>>()(
  'transcripts.cmd.segment.list_for_session.v1',
  ListSessionTranscriptSegmentsPayload,
);

/** The run's segments, oldest first (the gateway asks GetRun first, as for the session list). */
export class ListRunTranscriptSegmentsPayload extends ListSegments {
  @IsUUID()
  run_id!: string;
}
export const ListRunTranscriptSegments = defineCommand<Page<TranscriptSegmentView>>()('transcripts.cmd.segment.list_for_run.v1', ListRunTranscriptSegmentsPayload);

/** One segment, if the caller may see its session or run (its owner is stored on it): else NOT_FOUND. */
export class GetTranscriptSegmentPayload extends ScopedPayload {
  @IsUUID()
  segment_id!: string;
}
export const GetTranscriptSegment = defineCommand<TranscriptSegmentView>()('transcripts.cmd.segment.get.v1', GetTranscriptSegmentPayload);

// ---- Worker command: trusted, no CallerScope; fenced by the run's lease ----

/**
 * A segment for the run a worker holds (e.g. the execution summary it writes as the run ends). The
 * transcripts service has the runs service vouch for the lease first (CheckRunLease: LEASE_LOST,
 * RUN_TERMINAL, NOT_FOUND, CONFLICT while a cancel is requested, exactly as for the runs service's own
 * worker writes) and commits only while that lease is still unexpired — the only way another worker
 * can take a run over is its lease expiring, so a worker that lost its lease cannot write. Stored once
 * per (run, key): a retry or a re-run executor gets the first segment back. Filed under the default
 * retention class.
 */
export class PostRunTranscriptSegmentPayload extends TranscriptSegmentFields {
  @IsUUID()
  tenant_id!: string;

  @IsUUID()
  run_id!: string;

  @IsInt()
  @Min(1)
  lease_token!: number;

  @IsString()
  @Matches(EXECUTOR_KEY)
  key!: string;
}
export const PostRunTranscriptSegment = defineCommand<TranscriptSegmentView>()('transcripts.cmd.segment.post_for_run.v1', PostRunTranscriptSegmentPayload);
