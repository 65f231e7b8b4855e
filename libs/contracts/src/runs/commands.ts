import { Type } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsDefined, IsIn, IsInt, IsOptional, IsString, IsUUID, Matches, Max, MaxLength, Min, MinLength, ValidateNested } from 'class-validator';
import { defineCommand } from '../common/define.js';
import type { EventEnvelope } from '../common/events.js';
import { PageQuery, type Page } from '../common/pagination.js';
import { ScopedPayload } from '../common/scope.js';
import { IsJsonObject, IsOptionalNotNull } from '../common/validators.js';
import { MESSAGE_TEXT_MAX } from '../sessions/chat-message.dto.js';
import { EXECUTOR_KEY, PlanStepFields, type PlanStepView } from './plan-step.dto.js';
import { AnsweredWait, CancelRunBody, ClaimedRun, CreateRunBody, LeaseRenewal, ListRunsQuery, RUN_OUTPUT_MAX_BYTES, RunView } from './run.dto.js';
import { WAIT_ANSWER_MAX_BYTES, WAIT_DECISIONS, WAIT_KINDS, WAIT_TIMEOUT_MAX_SECONDS, type WaitDecision, type WaitKind, type WaitView } from './wait.dto.js';

// Wire names: renaming a subject is a migration (see common/define.ts).

// ---- Caller commands: on behalf of a principal, scoped like every tenant read or write ----

abstract class RunScoped extends ScopedPayload {
  @IsUUID()
  run_id!: string;
}

/** The namespaces of run idempotency keys (see CreateRunPayload.idempotency_key). */
const IDEMPOTENCY_KEY = /^(api|turn):[\x20-\x7e]{1,255}$/;

export class CreateRunPayload extends ScopedPayload {
  @IsDefined()
  @ValidateNested()
  @Type(() => CreateRunBody)
  body!: CreateRunBody;

  /**
   * An idempotency key, in a namespace of its sender's so keys of different origins never collide:
   * `api:<Idempotency-Key>` from the gateway (a client's header, printable ASCII), `turn:<message id>`
   * from the sessions service (the run of a turn). A create with a key this principal already used in
   * the tenant returns that run as it is now and creates nothing — with the same body; another body
   * with the key is refused with idempotency_key_reused.
   */
  @IsOptionalNotNull()
  @IsString()
  @Matches(IDEMPOTENCY_KEY, { message: 'idempotency_key must be `api:` or `turn:` followed by 1 to 255 printable ASCII characters' })
  idempotency_key?: string;
}
export const CreateRun = defineCommand<RunView>()('runs.cmd.run.create.v1', CreateRunPayload);

export class GetRunPayload extends RunScoped {}
export const GetRun = defineCommand<RunView>()('runs.cmd.run.get.v1', GetRunPayload);

export class ListRunsPayload extends ScopedPayload {
  @IsDefined()
  @ValidateNested()
  @Type(() => ListRunsQuery)
  query!: ListRunsQuery;
}
export const ListRuns = defineCommand<Page<RunView>>()('runs.cmd.run.list.v1', ListRunsPayload);

export class CancelRunPayload extends RunScoped {
  @IsDefined()
  @ValidateNested()
  @Type(() => CancelRunBody)
  body!: CancelRunBody;
}
export const CancelRun = defineCommand<RunView>()('runs.cmd.run.cancel.v1', CancelRunPayload);

abstract class RunPageScoped extends RunScoped {
  @IsDefined()
  @ValidateNested()
  @Type(() => PageQuery)
  query!: PageQuery;
}

/** The run's plan steps in position order. */
export class ListPlanStepsPayload extends RunPageScoped {}
export const ListPlanSteps = defineCommand<Page<PlanStepView>>()('runs.cmd.plan_step.list.v1', ListPlanStepsPayload);

/** The run's waits, oldest first. */
export class ListWaitsPayload extends RunPageScoped {}
export const ListWaits = defineCommand<Page<WaitView>>()('runs.cmd.wait.list.v1', ListWaitsPayload);

/** The run's events as its service committed them, oldest first. */
export class ListRunEventsPayload extends RunPageScoped {}
export const ListRunEvents = defineCommand<Page<EventEnvelope>>()('runs.cmd.run.events.v1', ListRunEventsPayload);

/**
 * Approve, deny or respond to an open wait: the wait is answered and the exact run that asked resumes
 * (pending again, with the answer). RUN_TERMINAL on an ended run; CONFLICT on a wait that is not open
 * or an answer of the wrong kind (approve/deny an input request, respond to an approval);
 * VALIDATION_FAILED when `input` is missing for `responded`, given otherwise, or does not satisfy the
 * wait's schema (the first problem found, as a field error under `input`).
 */
export class AnswerWaitPayload extends RunScoped {
  @IsUUID()
  wait_id!: string;

  @IsIn(WAIT_DECISIONS)
  decision!: WaitDecision;

  @IsOptional()
  @IsString()
  @MaxLength(1000)
  reason?: string;

  /** Required for `responded`, refused otherwise. */
  @IsOptional()
  @IsJsonObject(WAIT_ANSWER_MAX_BYTES)
  input?: Record<string, unknown>;
}
export const AnswerWait = defineCommand<AnsweredWait>()('runs.cmd.wait.answer.v1', AnswerWaitPayload);

// ---- Worker commands: workers are trusted service principals, so no CallerScope. Every write after
// the claim names the run's tenant and presents the lease token (fencing) it got from the claim. ----

const WORKER_ID = /^[A-Za-z0-9][A-Za-z0-9._:/-]*$/;
const EXECUTOR = WORKER_ID;
export const LEASE_TTL_MIN_MS = 100;
export const LEASE_TTL_MAX_MS = 3_600_000;

export class ClaimRunPayload {
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  @Matches(WORKER_ID)
  worker_id!: string;

  /** Only runs routed to one of these executors; all runs when absent. */
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(50)
  @IsString({ each: true })
  @MaxLength(100, { each: true })
  @Matches(EXECUTOR, { each: true })
  executors?: string[];

  @IsInt()
  @Min(LEASE_TTL_MIN_MS)
  @Max(LEASE_TTL_MAX_MS)
  lease_ttl_ms!: number;
}
/** The oldest pending run (of the given executors), now running under a new lease; null when there is none. */
export const ClaimRun = defineCommand<ClaimedRun | null>()('runs.cmd.run.claim.v1', ClaimRunPayload);

/** A worker's claim on a run: every write under a lease names it (the fence the runs service checks). */
export abstract class LeaseHeld {
  @IsUUID()
  tenant_id!: string;

  @IsUUID()
  run_id!: string;

  @IsInt()
  @Min(1)
  lease_token!: number;
}

export class RenewLeasePayload extends LeaseHeld {
  @IsInt()
  @Min(LEASE_TTL_MIN_MS)
  @Max(LEASE_TTL_MAX_MS)
  lease_ttl_ms!: number;
}
export const RenewLease = defineCommand<LeaseRenewal>()('runs.cmd.run.renew_lease.v1', RenewLeasePayload);

export class CompleteRunPayload extends LeaseHeld {
  @IsOptional()
  @IsJsonObject(RUN_OUTPUT_MAX_BYTES)
  output?: Record<string, unknown>;
}
export const CompleteRun = defineCommand<RunView>()('runs.cmd.run.complete.v1', CompleteRunPayload);

export class FailRunPayload extends LeaseHeld {
  @IsString()
  @MinLength(1)
  @MaxLength(10_000)
  failure_message!: string;
}
export const FailRun = defineCommand<RunView>()('runs.cmd.run.fail.v1', FailRunPayload);

/**
 * The worker gives a running run back unfinished (it is shutting down): the run is pending again at
 * once for another worker, and this claim does not count as an attempt.
 */
export class ReleaseRunPayload extends LeaseHeld {}
export const ReleaseRun = defineCommand<RunView>()('runs.cmd.run.release.v1', ReleaseRunPayload);

/** The worker stopped a run whose cancel was requested (status cancelling): it is now cancelled. */
export class FinishCancelPayload extends LeaseHeld {}
export const FinishCancel = defineCommand<RunView>()('runs.cmd.run.finish_cancel.v1', FinishCancelPayload);

// ---- What an executor does through its worker while it holds the lease ----
// Fenced like every worker write (RUN_TERMINAL, LEASE_LOST; a suspended run has no lease), and
// refused with CONFLICT once a cancel was requested: the worker may then only stop the run
// (FinishCancel).

/**
 * Adds the step with `key` (title required then) or updates it: title and status replace, evidence is
 * appended. Position is the order in which keys were first seen.
 *
 * The lease fields repeat LeaseHeld's: a class extends one class, and this one extends PlanStepFields
 * (the step's validated fields, shared with the executor-facing types).
 */
export class UpsertPlanStepPayload extends PlanStepFields {
  @IsUUID()
  tenant_id!: string;

  @IsUUID()
  run_id!: string;

  @IsInt()
  @Min(1)
  lease_token!: number;
}
export const UpsertPlanStep = defineCommand<PlanStepView>()('runs.cmd.plan_step.upsert.v1', UpsertPlanStepPayload);

/**
 * Asks a principal for an approval or an input. A new key opens the wait and suspends the run
 * (waiting_for_approval / waiting_for_input; the lease ends, the worker's slot is free). A key the run
 * already has returns that wait unchanged and suspends nothing: answered, the executor continues with
 * the answer; CONFLICT when that wait is of the other kind. Only an input request takes a `schema`,
 * and it must be a JSON Schema (draft-07) that compiles without fetching anything; otherwise
 * VALIDATION_FAILED, as for a new key past WAITS_PER_RUN_MAX.
 */
export class RequestWaitPayload extends LeaseHeld {
  @IsString()
  @Matches(EXECUTOR_KEY)
  key!: string;

  @IsIn(WAIT_KINDS)
  kind!: WaitKind;

  @IsString()
  @MinLength(1)
  @MaxLength(4000)
  prompt!: string;

  @IsOptionalNotNull()
  @IsJsonObject(16 * 1024)
  details?: Record<string, unknown>;

  /** JSON Schema for the answer of an input request. */
  @IsOptionalNotNull()
  @IsJsonObject(16 * 1024)
  schema?: Record<string, unknown>;

  /** Unanswered this long, the wait and the run expire. */
  @IsOptionalNotNull()
  @IsInt()
  @Min(1)
  @Max(WAIT_TIMEOUT_MAX_SECONDS)
  timeout_seconds?: number;
}
export interface RequestedWait {
  wait: WaitView;
  /** True when this call opened the wait and suspended the run: the executor must stop. */
  suspended: boolean;
}
export const RequestWait = defineCommand<RequestedWait>()('runs.cmd.wait.request.v1', RequestWaitPayload);

/** Progress for watchers (published as an event; no state changes). */
export class ReportProgressPayload extends LeaseHeld {
  @IsOptionalNotNull()
  @IsString()
  @MaxLength(2000)
  message?: string;

  @IsOptionalNotNull()
  @IsJsonObject(16 * 1024)
  data?: Record<string, unknown>;
}
export const ReportProgress = defineCommand<null>()('runs.cmd.run.progress.v1', ReportProgressPayload);

/**
 * An assistant message from the run into its session's chat. Published as RunMessagePosted; the
 * sessions service appends it exactly once per (run, key). Refused for a run outside a session.
 */
export class PostRunMessagePayload extends LeaseHeld {
  @IsString()
  @Matches(EXECUTOR_KEY)
  key!: string;

  @IsString()
  @MinLength(1)
  @MaxLength(MESSAGE_TEXT_MAX)
  content!: string;

  @IsOptionalNotNull()
  @IsJsonObject(16 * 1024)
  metadata?: Record<string, unknown>;
}
export const PostRunMessage = defineCommand<null>()('runs.cmd.run.post_message.v1', PostRunMessagePayload);
