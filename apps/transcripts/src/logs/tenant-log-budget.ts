import { DomainError, ErrorCode } from '@runyard/contracts';

/** Length of one budget window. */
export const LOG_BUDGET_WINDOW_MS = 60_000;

/**
 * Each tenant's bytes of log text per minute (fixed one-minute windows), checked before a batch and
 * charged with what it stored. An abstract class, so it is both the port and the injection token:
 * MemoryTenantLogBudget in standalone mode (one process), RedisTenantLogBudget in distributed mode
 * (one budget shared by every replica). Check and charge are separate steps (only the stored bytes
 * count), so concurrent batches may overshoot the budget by what they carry; the next batch is refused.
 */
export abstract class TenantLogBudget {
  /** RATE_LIMITED (details.retryAfterSeconds) when the tenant has used its budget for this window. */
  abstract check(tenantId: string): Promise<void>;

  /** Counts bytes the tenant stored against its current window. Never throws: the batch is already committed. */
  abstract charge(tenantId: string, bytes: number): Promise<void>;
}

export interface TenantLogBudgetOptions {
  /** Bytes one tenant may append per window (LogsSettings.tenantBytesPerMinute). */
  bytesPerMinute: number;
  /** Milliseconds since the epoch; tests move it to roll windows. Default Date.now. */
  clock?: () => number;
}

/** The refusal of a tenant whose window started at windowStart, at now. */
export function logBudgetSpent(bytesPerMinute: number, windowStart: number, now: number): DomainError {
  const retryAfterSeconds = Math.max(1, Math.ceil((windowStart + LOG_BUDGET_WINDOW_MS - now) / 1000));
  return new DomainError(ErrorCode.RATE_LIMITED, `the tenant appended its ${bytesPerMinute} bytes of log text for this minute; retry in ${retryAfterSeconds} s`, {
    retryAfterSeconds,
  });
}
