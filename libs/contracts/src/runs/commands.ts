import { Type } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsDefined, IsInt, IsOptional, IsString, IsUUID, Matches, Max, MaxLength, Min, MinLength, ValidateNested } from 'class-validator';
import { defineCommand } from '../common/define.js';
import type { Page } from '../common/pagination.js';
import { CallerScope } from '../common/scope.js';
import { IsJsonObject } from '../common/validators.js';
import { CancelRunBody, ClaimedRun, CreateRunBody, LeaseRenewal, ListRunsQuery, RUN_OUTPUT_MAX_BYTES, RunView } from './run.dto.js';

// Wire names: renaming a subject is a migration (see common/define.ts).

// ---- Caller commands: on behalf of a principal, scoped like every tenant read or write ----

abstract class Scoped {
  @IsDefined()
  @ValidateNested()
  @Type(() => CallerScope)
  scope!: CallerScope;
}

abstract class RunScoped extends Scoped {
  @IsUUID()
  run_id!: string;
}

export class CreateRunPayload extends Scoped {
  @IsDefined()
  @ValidateNested()
  @Type(() => CreateRunBody)
  body!: CreateRunBody;
}
export const CreateRun = defineCommand<RunView>()('runs.cmd.run.create.v1', CreateRunPayload);

export class GetRunPayload extends RunScoped {}
export const GetRun = defineCommand<RunView>()('runs.cmd.run.get.v1', GetRunPayload);

export class ListRunsPayload extends Scoped {
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

abstract class LeaseHeld {
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

/** The worker stopped a run whose cancel was requested (status cancelling): it is now cancelled. */
export class FinishCancelPayload extends LeaseHeld {}
export const FinishCancel = defineCommand<RunView>()('runs.cmd.run.finish_cancel.v1', FinishCancelPayload);
