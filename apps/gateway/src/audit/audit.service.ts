import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { DomainError, ErrorCode, type Page } from '@runyard/contracts';
import { v7 as uuidv7, validate as isUuid } from 'uuid';
import type { AuthenticatedCaller } from '../identity/caller.js';
import { toCallerScope } from '../identity/caller.js';
import { CLOCK, type Clock } from '../identity/clock.js';
import { rowsToFetch, toPage } from '@runyard/persistence';
import { decodeKeysetCursor, keysetCursor } from '../identity/keyset-page.js';
import { AuditEventEntity, type AuditActorKind, type AuditOutcome, type JsonObject } from './audit-event.entity.js';
import type { ListAuditEventsQuery } from './audit-events.dto.js';
import { AuditEventsRepository } from './audit-events.repository.js';

export interface AuditRecord {
  /** null for system-level events. */
  tenantId: string | null;
  actorId: string | null;
  actorKind: AuditActorKind;
  action: string;
  targetType: string | null;
  targetId: string | null;
  outcome: AuditOutcome;
  requestId: string | null;
  statusCode?: number;
  reason?: string;
  metadata?: Record<string, unknown>;
}

export interface AuditEventView {
  id: string;
  tenant_id: string | null;
  actor_id: string | null;
  actor_kind: AuditActorKind;
  action: string;
  target_type: string | null;
  target_id: string | null;
  outcome: AuditOutcome;
  status_code: number | null;
  reason: string | null;
  request_id: string | null;
  metadata: JsonObject | null;
  created_at: string;
}

interface PendingRecord {
  row: AuditEventEntity;
  resolve(): void;
  reject(error: unknown): void;
}

/** Rows per INSERT: 13 parameters each stays far below Postgres's 65,535-parameter limit. */
const MAX_BATCH_ROWS = 500;
const MAX_TEXT_LENGTH = 1000;

/** Postgres rejects NUL in text and jsonb; one such byte must not fail a whole batch. */
function cleanText(value: string): string {
  return value.replaceAll('\u0000', '').slice(0, MAX_TEXT_LENGTH);
}

/** A JSON round trip: what is stored is exactly what JSON can carry, minus NUL characters. */
function cleanMetadata(metadata: Record<string, unknown>): JsonObject {
  const json = JSON.stringify(metadata, (_key, value: unknown) => (typeof value === 'string' ? value.replaceAll('\u0000', '') : value));
  return JSON.parse(json) as JsonObject;
}

export function toAuditEventView(row: AuditEventEntity): AuditEventView {
  return {
    id: row.id,
    tenant_id: row.tenantId,
    actor_id: row.actorId,
    actor_kind: row.actorKind,
    action: row.action,
    target_type: row.targetType,
    target_id: row.targetId,
    outcome: row.outcome,
    status_code: row.statusCode,
    reason: row.reason,
    request_id: row.requestId,
    metadata: row.metadata,
    created_at: row.createdAt.toISOString(),
  };
}

/**
 * The audit trail. `record()` is durable: it resolves only once its row is committed. Concurrent
 * calls are group-committed: while one INSERT is in flight, new records queue up and the next INSERT
 * carries all of them, so N concurrent requests cost about one round trip, not N — without ever
 * acknowledging a record before it is stored.
 */
@Injectable()
export class AuditService implements OnApplicationShutdown {
  private readonly logger = new Logger(AuditService.name);
  private pending: PendingRecord[] = [];
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly repository: AuditEventsRepository,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  record(event: AuditRecord): Promise<void> {
    let row: AuditEventEntity;
    try {
      row = this.toRow(event);
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ row, resolve, reject });
      this.flushing ??= this.flushAll();
    });
  }

  /** Tenant admins only; their own tenant's events, newest first. */
  async list(caller: AuthenticatedCaller, query: ListAuditEventsQuery): Promise<Page<AuditEventView>> {
    const scope = toCallerScope(caller);
    if (scope.role !== 'admin') throw new DomainError(ErrorCode.FORBIDDEN, 'only tenant admins can read the audit trail');
    const rows = await this.repository.listForTenant(
      scope.tenant_id,
      {
        action: query.action,
        actorId: query.actor_id,
        targetType: query.target_type,
        targetId: query.target_id,
        outcome: query.outcome,
        createdAfter: query.created_after === undefined ? undefined : new Date(query.created_after),
        createdBefore: query.created_before === undefined ? undefined : new Date(query.created_before),
      },
      rowsToFetch(query.limit),
      decodeKeysetCursor(query.cursor),
    );
    return toPage(rows, query.limit, toAuditEventView, keysetCursor);
  }

  /** Waits until every record accepted so far is committed (or failed). */
  async drain(): Promise<void> {
    while (this.flushing) await this.flushing;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.drain();
  }

  private toRow(event: AuditRecord): AuditEventEntity {
    // A malformed uuid would fail the whole batch's INSERT; refuse it here, for this caller only.
    for (const [field, value] of [['tenantId', event.tenantId], ['actorId', event.actorId]] as const) {
      if (value !== null && !isUuid(value)) throw new Error(`audit ${field} must be a UUID`);
    }
    const row = new AuditEventEntity();
    row.id = uuidv7();
    row.tenantId = event.tenantId;
    row.actorId = event.actorId;
    row.actorKind = event.actorKind;
    row.action = cleanText(event.action);
    row.targetType = event.targetType === null ? null : cleanText(event.targetType);
    row.targetId = event.targetId === null ? null : cleanText(event.targetId);
    row.outcome = event.outcome;
    row.statusCode = event.statusCode ?? null;
    row.reason = event.reason === undefined ? null : cleanText(event.reason);
    row.requestId = event.requestId === null ? null : cleanText(event.requestId);
    row.metadata = event.metadata === undefined ? null : cleanMetadata(event.metadata);
    // Truncated to the millisecond like every timestamp here, so keyset cursors compare exactly.
    row.createdAt = this.clock.now();
    return row;
  }

  private async flushAll(): Promise<void> {
    // Yield once so callers arriving in the same tick join the first batch.
    await new Promise<void>((resolve) => setImmediate(resolve));
    try {
      while (this.pending.length > 0) {
        const batch = this.pending.splice(0, MAX_BATCH_ROWS);
        try {
          await this.repository.insertBatch(batch.map((entry) => entry.row));
          for (const entry of batch) entry.resolve();
        } catch (error) {
          this.logger.error(`audit batch of ${batch.length} failed: ${error instanceof Error ? error.message : String(error)}`);
          for (const entry of batch) entry.reject(error);
        }
      }
    } finally {
      this.flushing = undefined;
    }
  }
}
