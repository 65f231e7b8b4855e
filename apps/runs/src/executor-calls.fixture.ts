import { ClaimRun, CreateRun, GetRun, type CallerScope, type ClaimedRun, type PayloadOf, type RunView } from '@runyard/contracts';
import type { InProcessBus } from '@runyard/messaging';
import { failure } from './runs.fixture.js';

/** What every worker write after a claim presents. */
export interface LeaseFields {
  tenant_id: string;
  run_id: string;
  lease_token: number;
}

/**
 * The calls the plan step, wait and event specs make over the bus, as the gateway and a worker do.
 * Each test claims only runs of an executor of its own.
 */
export function executorCalls(bus: InProcessBus) {
  return {
    create(scope: CallerScope, body: PayloadOf<typeof CreateRun>['body']): Promise<RunView> {
      return bus.request(CreateRun, { scope, body });
    },
    get(scope: CallerScope, runId: string): Promise<RunView> {
      return bus.request(GetRun, { scope, run_id: runId });
    },
    async claimOne(executor: string, leaseTtlMs = 60_000, workerId = 'worker-1'): Promise<ClaimedRun> {
      const claimed = await bus.request(ClaimRun, { worker_id: workerId, executors: [executor], lease_ttl_ms: leaseTtlMs });
      if (claimed === null) throw new Error(`nothing pending for ${executor}`);
      return claimed;
    },
  };
}

export function lease(claimed: ClaimedRun, token = claimed.lease_token): LeaseFields {
  return { tenant_id: claimed.run.tenant_id, run_id: claimed.run.id, lease_token: token };
}

/** The error code a call fails with, or 'ok'. */
export async function outcome(promise: Promise<unknown>): Promise<string> {
  return promise.then(
    () => 'ok',
    async () => (await failure(promise)).code,
  );
}
