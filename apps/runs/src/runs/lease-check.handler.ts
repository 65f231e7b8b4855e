import { Injectable } from '@nestjs/common';
import { CheckRunLease, type PayloadOf, type RunLeaseCheck } from '@runyard/contracts';
import { CommandHandler } from '@runyard/messaging';
import { leaseLost } from './run-errors.js';
import { LeaseGuard } from './lease-guard.js';

/**
 * Bus entry point for trusted services that store a worker's writes themselves (the transcripts
 * service): the lease is checked by the same fence as this service's executor writes, and the answer
 * says until when it holds, so the asker can refuse to commit past that.
 */
@Injectable()
export class LeaseCheckHandler {
  constructor(private readonly guard: LeaseGuard) {}

  @CommandHandler(CheckRunLease)
  check(payload: PayloadOf<typeof CheckRunLease>): Promise<RunLeaseCheck> {
    const lease = { tenantId: payload.tenant_id, runId: payload.run_id, leaseToken: payload.lease_token };
    return this.guard.withLease(lease, { executorWork: true }, (_tx, _events, run) => {
      // withLease has checked it; the type does not say so.
      if (run.leaseExpiresAt === null) throw leaseLost(run.id);
      return Promise.resolve({
        run_id: run.id,
        tenant_id: run.tenantId,
        owner_id: run.ownerId,
        session_id: run.sessionId,
        lease_expires_at: run.leaseExpiresAt.toISOString(),
      });
    });
  }
}
