import { Logger, type LoggerService } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { LOG_BUDGET_WINDOW_MS, logBudgetSpent, TenantLogBudget, type TenantLogBudgetOptions } from './tenant-log-budget.js';

/** Namespaced like the gateway's keys (`runyard:gateway:...`). */
export const DEFAULT_LOG_BUDGET_KEY_PREFIX = 'runyard:transcripts';

/**
 * A window's key outlives its window by a whole window: replicas whose clocks lag a little still find
 * the count, and at most two keys per tenant exist at a time.
 */
const KEY_TTL_MS = 2 * LOG_BUDGET_WINDOW_MS;

/** At most one "budget unavailable" warning per this many ms, so an outage does not flood the log. */
const WARN_INTERVAL_MS = 10_000;

export interface RedisTenantLogBudgetOptions extends TenantLogBudgetOptions {
  redis: Redis;
  /** Default DEFAULT_LOG_BUDGET_KEY_PREFIX; keys are `<prefix>:logbudget:<tenant>:<window start>`. */
  keyPrefix?: string;
  /** Where "budget unavailable" warnings go. Default a Nest Logger. */
  logger?: Pick<LoggerService, 'warn'>;
}

/**
 * Distributed mode's budget: one counter per tenant per window in Redis, shared by every replica.
 * Windows start on minute boundaries (epoch milliseconds), so every replica names the same key.
 *
 * Redis unreachable or failing → fail open, like the gateway's rate limiter: the budget protects
 * capacity, it is not a security boundary (tenancy is enforced elsewhere), and refusing every batch
 * while Redis is down would turn a cache outage into lost or stalled run logs for every tenant.
 * Batches pass unmetered (each still capped at LOG_BATCH_MAX_BYTES, each log at its per-run limits)
 * and the outage is logged; nothing is dropped. charge() never throws either: its batch is committed,
 * and an error there would make the producer resend stored lines.
 */
export class RedisTenantLogBudget extends TenantLogBudget {
  private readonly redis: Redis;
  private readonly keyPrefix: string;
  private readonly clock: () => number;
  private readonly logger: Pick<LoggerService, 'warn'>;
  private lastWarning = Number.NEGATIVE_INFINITY;

  constructor(private readonly options: RedisTenantLogBudgetOptions) {
    super();
    this.redis = options.redis;
    this.keyPrefix = options.keyPrefix ?? DEFAULT_LOG_BUDGET_KEY_PREFIX;
    this.clock = options.clock ?? Date.now;
    this.logger = options.logger ?? new Logger(TenantLogBudget.name);
  }

  async check(tenantId: string): Promise<void> {
    const now = this.clock();
    const start = windowStart(now);
    let used: number;
    try {
      used = Number((await this.redis.get(this.key(tenantId, start))) ?? 0);
    } catch (error) {
      this.warnUnavailable(error);
      return;
    }
    if (used >= this.options.bytesPerMinute) throw logBudgetSpent(this.options.bytesPerMinute, start, now);
  }

  async charge(tenantId: string, bytes: number): Promise<void> {
    if (bytes <= 0) return;
    const key = this.key(tenantId, windowStart(this.clock()));
    try {
      // MULTI/EXEC goes out as one pipeline: one round trip, and the counter never exists without its TTL.
      const results = await this.redis.multi().incrby(key, bytes).pexpire(key, KEY_TTL_MS).exec();
      const failed = results === null ? new Error('MULTI was aborted') : results.find(([error]) => error !== null)?.[0];
      if (failed) throw failed;
    } catch (error) {
      this.warnUnavailable(error);
    }
  }

  private key(tenantId: string, start: number): string {
    return `${this.keyPrefix}:logbudget:${tenantId}:${start}`;
  }

  private warnUnavailable(error: unknown): void {
    const now = Date.now();
    if (now - this.lastWarning < WARN_INTERVAL_MS) return;
    this.lastWarning = now;
    const message = error instanceof Error ? error.message : String(error);
    this.logger.warn(`tenant log budget unavailable (Redis: ${message}); failing open`);
  }
}

function windowStart(now: number): number {
  return now - (now % LOG_BUDGET_WINDOW_MS);
}
