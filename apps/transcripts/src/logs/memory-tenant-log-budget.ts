import { LOG_BUDGET_WINDOW_MS, logBudgetSpent, TenantLogBudget, type TenantLogBudgetOptions } from './tenant-log-budget.js';

/** Above this many tenants, expired windows are swept when a new window opens. */
const SWEEP_ABOVE = 10_000;

/**
 * Standalone mode's budget, in this process's memory. A tenant's window opens with its first batch
 * (no replicas have to agree on window boundaries here).
 */
export class MemoryTenantLogBudget extends TenantLogBudget {
  private readonly windows = new Map<string, { start: number; bytes: number }>();
  private readonly clock: () => number;

  constructor(private readonly options: TenantLogBudgetOptions) {
    super();
    this.clock = options.clock ?? Date.now;
  }

  check(tenantId: string): Promise<void> {
    const now = this.clock();
    const window = this.current(tenantId, now);
    if (window.bytes < this.options.bytesPerMinute) return Promise.resolve();
    return Promise.reject(logBudgetSpent(this.options.bytesPerMinute, window.start, now));
  }

  charge(tenantId: string, bytes: number): Promise<void> {
    this.current(tenantId, this.clock()).bytes += bytes;
    return Promise.resolve();
  }

  private current(tenantId: string, now: number): { start: number; bytes: number } {
    let window = this.windows.get(tenantId);
    if (window === undefined || now - window.start >= LOG_BUDGET_WINDOW_MS) {
      // Expired windows of other tenants go too, so the map holds only this minute's tenants.
      if (this.windows.size > SWEEP_ABOVE) for (const [id, w] of this.windows) if (now - w.start >= LOG_BUDGET_WINDOW_MS) this.windows.delete(id);
      window = { start: now, bytes: 0 };
      this.windows.set(tenantId, window);
    }
    return window;
  }
}
