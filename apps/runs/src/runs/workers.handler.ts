import { Injectable } from '@nestjs/common';
import {
  ClaimRun,
  CompleteRun,
  FailRun,
  FinishCancel,
  PostRunMessage,
  ReleaseRun,
  RenewLease,
  ReportProgress,
  RequestWait,
  UpsertPlanStep,
  type ClaimedRun,
  type LeaseRenewal,
  type PayloadOf,
  type PlanStepView,
  type RequestedWait,
  type RunView,
} from '@runyard/contracts';
import { CommandHandler } from '@runyard/messaging';
import { PlanStepsService } from '../plan-steps/plan-steps.service.js';
import { RunReportsService } from '../run-events/run-reports.service.js';
import { WaitsService } from '../waits/waits.service.js';
import type { HeldLease } from './lease-guard.js';
import { LeasesService } from './leases.service.js';

function heldLease(payload: { tenant_id: string; run_id: string; lease_token: number }): HeldLease {
  return { tenantId: payload.tenant_id, runId: payload.run_id, leaseToken: payload.lease_token };
}

/**
 * Bus entry points for workers (trusted service principals, no caller scope): claim, renew, report,
 * and what the executor does while it holds the lease (plan steps, waits, progress, chat messages).
 */
@Injectable()
export class WorkersHandler {
  constructor(
    private readonly leases: LeasesService,
    private readonly steps: PlanStepsService,
    private readonly waits: WaitsService,
    private readonly reports: RunReportsService,
  ) {}

  @CommandHandler(ClaimRun)
  claim(payload: PayloadOf<typeof ClaimRun>): Promise<ClaimedRun | null> {
    return this.leases.claim(payload.worker_id, payload.executors, payload.lease_ttl_ms);
  }

  @CommandHandler(RenewLease)
  renew(payload: PayloadOf<typeof RenewLease>): Promise<LeaseRenewal> {
    return this.leases.renew(heldLease(payload), payload.lease_ttl_ms);
  }

  @CommandHandler(CompleteRun)
  complete(payload: PayloadOf<typeof CompleteRun>): Promise<RunView> {
    return this.leases.complete(heldLease(payload), payload.output);
  }

  @CommandHandler(FailRun)
  fail(payload: PayloadOf<typeof FailRun>): Promise<RunView> {
    return this.leases.fail(heldLease(payload), payload.failure_message);
  }

  @CommandHandler(FinishCancel)
  finishCancel(payload: PayloadOf<typeof FinishCancel>): Promise<RunView> {
    return this.leases.finishCancel(heldLease(payload));
  }

  @CommandHandler(ReleaseRun)
  release(payload: PayloadOf<typeof ReleaseRun>): Promise<RunView> {
    return this.leases.release(heldLease(payload));
  }

  @CommandHandler(UpsertPlanStep)
  upsertPlanStep(payload: PayloadOf<typeof UpsertPlanStep>): Promise<PlanStepView> {
    return this.steps.upsert(heldLease(payload), { key: payload.key, title: payload.title, status: payload.status, evidence: payload.evidence });
  }

  @CommandHandler(RequestWait)
  requestWait(payload: PayloadOf<typeof RequestWait>): Promise<RequestedWait> {
    const { key, kind, prompt, details, schema, timeout_seconds } = payload;
    return this.waits.request(heldLease(payload), { key, kind, prompt, details, schema, timeout_seconds });
  }

  @CommandHandler(ReportProgress)
  reportProgress(payload: PayloadOf<typeof ReportProgress>): Promise<null> {
    return this.reports.reportProgress(heldLease(payload), { message: payload.message, data: payload.data });
  }

  @CommandHandler(PostRunMessage)
  postMessage(payload: PayloadOf<typeof PostRunMessage>): Promise<null> {
    return this.reports.postMessage(heldLease(payload), { key: payload.key, content: payload.content, metadata: payload.metadata });
  }
}
