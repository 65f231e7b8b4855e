import { type BeforeApplicationShutdown, Inject, Injectable, Logger, type OnApplicationBootstrap, Optional } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { BUS, type Bus } from '../bus.js';
import { describeError } from '../command-reply.js';
import type { MessagingLogger } from '../messaging-logger.js';
import { OutboxEventRepository } from './outbox-event.repository.js';

export interface OutboxRelayOptions {
  /** How often to look for unpublished events when not nudged; default 250 ms. */
  pollIntervalMs?: number;
  /** Events published per transaction; default 100. */
  batchSize?: number;
  /** Published rows are deleted after this long; default 24 h. */
  retentionMs?: number;
  /** How often to prune; default 60 s. */
  pruneIntervalMs?: number;
  /** Longest wait between attempts while publishing fails; default 10 s. */
  maxBackoffMs?: number;
  /**
   * After a nudge, wait this long so the commits of concurrent requests share one round (one
   * transaction and one batch of publishes instead of one each); default 5 ms.
   */
  coalesceMs?: number;
  /**
   * Schema whose outbox this relay drains, naming its lock. Default: the data source's `schema`
   * option, else the connection's current schema (its search_path).
   */
  schema?: string;
  logger?: MessagingLogger;
}

/** Optional provider for relay settings; listing `OutboxRelay` alone uses the defaults. */
export const OUTBOX_RELAY_OPTIONS = Symbol('runyard.outbox.relay-options');

const PRUNE_BATCH = 1000;

/**
 * Publishes committed outbox rows to the bus, in id order, and stamps them published. Runs from
 * application bootstrap to shutdown as a Nest provider, or by hand with `start()`/`stop()`.
 *
 * One relay per schema works at a time (a transaction-scoped advisory lock), which keeps the order
 * across replicas; the others find the lock taken and try again on their next poll. A publish that
 * fails leaves that row and the rest unpublished for the next round, with exponential backoff, so
 * nothing committed is lost while the bus is down. A row may be published twice only if marking it
 * failed after the bus took it — the event id dedupes that on the bus, and consumers are idempotent.
 */
@Injectable()
export class OutboxRelay implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly repository = new OutboxEventRepository();
  private readonly pollIntervalMs: number;
  private readonly batchSize: number;
  private readonly retentionMs: number;
  private readonly pruneIntervalMs: number;
  private readonly maxBackoffMs: number;
  private readonly coalesceMs: number;
  private readonly schema: string | undefined;
  private readonly logger: MessagingLogger;
  private loop: Promise<void> | undefined;
  private stopping = false;
  private nudged = false;
  private wake: (() => void) | undefined;

  constructor(
    private readonly dataSource: DataSource,
    @Inject(BUS) private readonly bus: Bus,
    @Optional() @Inject(OUTBOX_RELAY_OPTIONS) options: OutboxRelayOptions = {},
  ) {
    this.pollIntervalMs = options.pollIntervalMs ?? 250;
    this.batchSize = options.batchSize ?? 100;
    this.retentionMs = options.retentionMs ?? 24 * 3_600_000;
    this.pruneIntervalMs = options.pruneIntervalMs ?? 60_000;
    this.maxBackoffMs = options.maxBackoffMs ?? 10_000;
    this.coalesceMs = options.coalesceMs ?? 5;
    const configured = 'schema' in dataSource.options ? dataSource.options.schema : undefined;
    this.schema = options.schema ?? configured;
    this.logger = options.logger ?? new Logger(OutboxRelay.name);
  }

  onApplicationBootstrap(): void {
    this.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.stop();
  }

  start(): void {
    if (this.loop) return;
    this.stopping = false;
    this.loop = this.runLoop();
  }

  /** Finishes the round in progress, then stops. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.loop;
    this.loop = undefined;
  }

  /** Something was committed: relay now instead of at the next poll. */
  nudge(): void {
    this.nudged = true;
    this.wake?.();
  }

  private async runLoop(): Promise<void> {
    let failures = 0;
    let lastPrune = 0;
    while (!this.stopping) {
      this.nudged = false;
      let delayMs = this.pollIntervalMs;
      try {
        const { full } = await this.relayBatch();
        failures = 0;
        if (full) delayMs = 0;
      } catch (error) {
        failures += 1;
        delayMs = Math.min(this.maxBackoffMs, this.pollIntervalMs * 2 ** failures);
        // The error names the subject at most; payloads stay out of logs.
        this.logger.warn(`Outbox relay: publishing failed (attempt ${failures}, next in ${delayMs} ms): ${describeError(error)}`);
      }
      if (Date.now() - lastPrune >= this.pruneIntervalMs) {
        lastPrune = Date.now();
        await this.prune();
      }
      // A nudge cuts a poll wait short, never a backoff: commits must not hammer a failing bus.
      if (delayMs > 0 && !this.stopping && (failures > 0 || !this.nudged)) await this.sleep(delayMs, failures === 0);
      if (this.nudged && failures === 0 && !this.stopping && this.coalesceMs > 0) {
        await new Promise((resolve) => setTimeout(resolve, this.coalesceMs));
      }
    }
  }

  /** One transaction: lock, read a batch, publish in order until one fails, mark what was published. */
  private async relayBatch(): Promise<{ full: boolean }> {
    let failure: unknown;
    let full = false;
    await this.dataSource.transaction(async (tx) => {
      if (!(await this.repository.tryLockRelay(tx, this.schema))) return;
      const rows = await this.repository.findUnpublished(tx, this.batchSize);
      // One at a time, stopping at the first failure: a later event must never reach the stream
      // before an earlier one that is still to be retried.
      const published: string[] = [];
      for (const row of rows) {
        try {
          await this.bus.publish(row.envelope, row.headers);
        } catch (error) {
          failure = error;
          break;
        }
        published.push(row.id);
      }
      await this.repository.markPublished(tx, published);
      full = rows.length === this.batchSize && published.length === rows.length;
    });
    if (failure !== undefined) throw failure instanceof Error ? failure : new Error(describeError(failure));
    return { full };
  }

  private async prune(): Promise<void> {
    try {
      const cutoff = new Date(Date.now() - this.retentionMs);
      while (!this.stopping && (await this.repository.deletePublishedBefore(this.dataSource.manager, cutoff, PRUNE_BATCH)) === PRUNE_BATCH);
    } catch (error) {
      this.logger.warn(`Outbox relay: pruning failed: ${describeError(error)}`);
    }
  }

  private sleep(ms: number, wakeOnNudge: boolean): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = () => {
        if (this.stopping || wakeOnNudge) done();
      };
    });
  }
}
