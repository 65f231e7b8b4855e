import { Injectable } from '@nestjs/common';
import {
  ClaimRun,
  CompleteRun,
  FailRun,
  FinishCancel,
  RenewLease,
  type ClaimedRun,
  type LeaseRenewal,
  type PayloadOf,
  type RunView,
} from '@runyard/contracts';
import { CommandHandler } from '@runyard/messaging';
import { LeasesService, type HeldLease } from './leases.service.js';

function heldLease(payload: { tenant_id: string; run_id: string; lease_token: number }): HeldLease {
  return { tenantId: payload.tenant_id, runId: payload.run_id, leaseToken: payload.lease_token };
}

/** Bus entry points for workers (trusted service principals, no caller scope): claim, renew, report. */
@Injectable()
export class WorkersHandler {
  constructor(private readonly leases: LeasesService) {}

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
}
