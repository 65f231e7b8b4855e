import { Inject, Injectable } from '@nestjs/common';
import { DomainError, ErrorCode } from '@runyard/contracts';
import { LOGS_SETTINGS, type LogsSettings } from './logs-settings.js';

const WINDOW_MS = 60_000;

/**
 * Each tenant's log bytes per minute (fixed one-minute windows), kept in this replica's memory: N
 * replicas let a tenant through up to N times the budget. A shared budget (Redis, as the gateway's
 * rate limit) is the next step if that matters; this one already stops one tenant from flooding a replica.
 */
@Injectable()
export class TenantLogBudget {
  private readonly windows = new Map<string, { start: number; bytes: number }>();

  constructor(@Inject(LOGS_SETTINGS) private readonly settings: LogsSettings) {}

  /** RATE_LIMITED (with retryAfterSeconds) when the tenant has used its budget for this minute. */
  check(tenantId: string, now = Date.now()): void {
    const window = this.current(tenantId, now);
    if (window.bytes < this.settings.tenantBytesPerMinute) return;
    const retryAfterSeconds = Math.max(1, Math.ceil((window.start + WINDOW_MS - now) / 1000));
    throw new DomainError(
      ErrorCode.RATE_LIMITED,
      `the tenant appended its ${this.settings.tenantBytesPerMinute} bytes of log text for this minute; retry in ${retryAfterSeconds} s`,
      { retryAfterSeconds },
    );
  }

  charge(tenantId: string, bytes: number, now = Date.now()): void {
    this.current(tenantId, now).bytes += bytes;
  }

  private current(tenantId: string, now: number): { start: number; bytes: number } {
    let window = this.windows.get(tenantId);
    if (window === undefined || now - window.start >= WINDOW_MS) {
      // Expired windows of other tenants go too, so the map holds only this minute's tenants.
      if (this.windows.size > 10_000) for (const [id, w] of this.windows) if (now - w.start >= WINDOW_MS) this.windows.delete(id);
      window = { start: now, bytes: 0 };
      this.windows.set(tenantId, window);
    }
    return window;
  }
}
