import { describe, expect, it } from '@jest/globals';
import { ErrorCode } from '@runyard/contracts';
import { randomUUID } from 'node:crypto';
import { LOG_BUDGET_WINDOW_MS, type TenantLogBudget } from './tenant-log-budget.js';

/** A minute boundary, so the first call of a test opens its window there in every implementation. */
export const BUDGET_T0 = Date.UTC(2030, 0, 1);
const LIMIT = 1000;

/** Time under the test's control: windows roll when it moves. */
export interface TestClock {
  now: number;
  read: () => number;
}

export function testClock(start = BUDGET_T0): TestClock {
  const clock: TestClock = { now: start, read: () => clock.now };
  return clock;
}

export type CreateTenantLogBudget = (options: { bytesPerMinute: number; clock: () => number }) => TenantLogBudget;

/**
 * What every TenantLogBudget must do, run against each implementation (memory in the unit tier,
 * Redis in the integration tier), so standalone and distributed mode limit tenants alike.
 */
export function describeTenantLogBudgetContract(name: string, createBudget: CreateTenantLogBudget): void {
  describe(`${name} (TenantLogBudget contract)`, () => {
    it('lets a tenant append until its bytes reach the budget, then refuses with RATE_LIMITED and the seconds left in the window', async () => {
      const clock = testClock();
      const budget = createBudget({ bytesPerMinute: LIMIT, clock: clock.read });
      const tenant = randomUUID();
      await budget.check(tenant);
      await budget.charge(tenant, 600);
      await budget.check(tenant);
      await budget.check(tenant); // checking consumes nothing
      await budget.charge(tenant, 399);
      await budget.check(tenant);
      await budget.charge(tenant, 1);
      clock.now = BUDGET_T0 + 15_000;
      await expect(budget.check(tenant)).rejects.toMatchObject({ code: ErrorCode.RATE_LIMITED, details: { retryAfterSeconds: 45 } });
      clock.now = BUDGET_T0 + LOG_BUDGET_WINDOW_MS - 1;
      await expect(budget.check(tenant)).rejects.toMatchObject({ code: ErrorCode.RATE_LIMITED, details: { retryAfterSeconds: 1 } });
    });

    it('gives the tenant a fresh budget when the window rolls', async () => {
      const clock = testClock();
      const budget = createBudget({ bytesPerMinute: LIMIT, clock: clock.read });
      const tenant = randomUUID();
      await budget.check(tenant);
      await budget.charge(tenant, 5 * LIMIT); // one batch may overshoot; the next is refused
      await expect(budget.check(tenant)).rejects.toMatchObject({ code: ErrorCode.RATE_LIMITED });

      clock.now = BUDGET_T0 + LOG_BUDGET_WINDOW_MS;
      await budget.check(tenant);
      await budget.charge(tenant, LIMIT - 1);
      await budget.check(tenant);
      await budget.charge(tenant, 1);
      await expect(budget.check(tenant)).rejects.toMatchObject({ code: ErrorCode.RATE_LIMITED, details: { retryAfterSeconds: 60 } });
    });

    it('keeps tenants apart, and charges of nothing cost nothing', async () => {
      const clock = testClock();
      const budget = createBudget({ bytesPerMinute: LIMIT, clock: clock.read });
      const [spent, other] = [randomUUID(), randomUUID()];
      await budget.check(spent);
      await budget.charge(spent, LIMIT);
      await expect(budget.check(spent)).rejects.toMatchObject({ code: ErrorCode.RATE_LIMITED });
      await budget.check(other);
      await budget.charge(other, 0);
      await budget.charge(other, LIMIT - 1);
      await budget.check(other);
    });
  });
}
