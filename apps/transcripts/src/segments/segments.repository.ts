import { Injectable } from '@nestjs/common';
import type { TranscriptRetentionClass, TranscriptSegmentKind } from '@runyard/contracts';
import { isUniqueViolationOf } from '@runyard/persistence';
import { DataSource, type EntityManager } from 'typeorm';

/** A segment as stored. */
export interface Segment {
  id: string;
  tenantId: string;
  ownerId: string;
  sessionId: string | null;
  runId: string | null;
  kind: TranscriptSegmentKind;
  content: string;
  contentBytes: number;
  metadata: Record<string, unknown>;
  retentionClass: TranscriptRetentionClass;
  expiresAt: Date | null;
  createdBy: string | null;
  idempotencyKey: string | null;
  idempotencyFingerprint: string | null;
  createdAt: Date;
}

/** Which segments a list reads: a session's (its own and its runs') or a run's. */
export type SegmentParent = { sessionId: string } | { runId: string };

/** Who created with a key: a principal (API) or, for a worker's keyed writes, the run. */
export type KeyCreator = { createdBy: string } | { runId: string };

export interface SegmentFilter {
  kind?: TranscriptSegmentKind;
  /** Keyset: only ids after this one (ids are UUIDv7, so in creation order). */
  afterId?: string;
  take: number;
}

interface SegmentRow {
  id: string;
  tenant_id: string;
  owner_id: string;
  session_id: string | null;
  run_id: string | null;
  kind: TranscriptSegmentKind;
  content: string;
  content_bytes: number | string;
  metadata: Record<string, unknown> | string;
  retention_class: TranscriptRetentionClass;
  expires_at: Date | string | null;
  created_by: string | null;
  idempotency_key: string | null;
  idempotency_fingerprint: string | null;
  created_at: Date | string;
}

/** The partial unique index on (tenant_id, COALESCE(created_by, run_id), idempotency_key) (migration 1764000000003). */
const IDEMPOTENCY_KEY_INDEX = 'transcript_segments_idempotency_key_idx';

const COLUMNS =
  'id, tenant_id, owner_id, session_id, run_id, kind, content, content_bytes, metadata, retention_class, expires_at, created_by, idempotency_key, idempotency_fingerprint, created_at';

/** A segment with the same creator and idempotency key committed first; read it instead. */
export class SegmentKeyTaken extends Error {
  constructor() {
    super('idempotency key already used');
    this.name = 'SegmentKeyTaken';
  }
}

function toDate(value: Date | string): Date {
  return value instanceof Date ? value : new Date(value);
}

function toSegment(row: SegmentRow): Segment {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    ownerId: row.owner_id,
    sessionId: row.session_id,
    runId: row.run_id,
    kind: row.kind,
    content: row.content,
    contentBytes: Number(row.content_bytes),
    metadata: typeof row.metadata === 'string' ? (JSON.parse(row.metadata) as Record<string, unknown>) : row.metadata,
    retentionClass: row.retention_class,
    expiresAt: row.expires_at === null ? null : toDate(row.expires_at),
    createdBy: row.created_by,
    idempotencyKey: row.idempotency_key,
    idempotencyFingerprint: row.idempotency_fingerprint,
    createdAt: toDate(row.created_at),
  };
}

/** The only database code of transcript segments. Every method takes the tenant; readers also the owner filter (members). */
@Injectable()
export class SegmentsRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** Throws SegmentKeyTaken when the creator's idempotency key is already held (a concurrent duplicate committed first). */
  async insert(tx: EntityManager, segment: Segment): Promise<void> {
    try {
      await tx.query(
        `INSERT INTO transcript_segments (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10, $11, $12, $13, $14, $15)`,
        [
          segment.id,
          segment.tenantId,
          segment.ownerId,
          segment.sessionId,
          segment.runId,
          segment.kind,
          segment.content,
          segment.contentBytes,
          JSON.stringify(segment.metadata),
          segment.retentionClass,
          segment.expiresAt,
          segment.createdBy,
          segment.idempotencyKey,
          segment.idempotencyFingerprint,
          segment.createdAt,
        ],
      );
    } catch (error) {
      if (segment.idempotencyKey !== null && isUniqueViolationOf(error, IDEMPOTENCY_KEY_INDEX)) throw new SegmentKeyTaken();
      throw error;
    }
  }

  /** The segment `creator` made with `idempotencyKey`, whatever the reader may see (callers check). */
  async findByKey(tenantId: string, creator: KeyCreator, idempotencyKey: string, manager: EntityManager = this.dataSource.manager): Promise<Segment | null> {
    const creatorId = 'createdBy' in creator ? creator.createdBy : creator.runId;
    const rows: SegmentRow[] = await manager.query(
      `SELECT ${COLUMNS} FROM transcript_segments WHERE tenant_id = $1 AND COALESCE(created_by, run_id) = $2 AND idempotency_key = $3`,
      [tenantId, creatorId, idempotencyKey],
    );
    return rows[0] === undefined ? null : toSegment(rows[0]);
  }

  /** The segment, if it is in the tenant and (with `ownerId`, a member) that principal's. */
  async findVisible(tenantId: string, ownerId: string | undefined, id: string): Promise<Segment | null> {
    const rows: SegmentRow[] = await this.dataSource.query(
      `SELECT ${COLUMNS} FROM transcript_segments WHERE id = $1 AND tenant_id = $2 AND ($3::uuid IS NULL OR owner_id = $3::uuid)`,
      [id, tenantId, ownerId ?? null],
    );
    return rows[0] === undefined ? null : toSegment(rows[0]);
  }

  /** The parent's segments the reader may see, oldest first, after `afterId`. */
  async listVisible(tenantId: string, ownerId: string | undefined, parent: SegmentParent, filter: SegmentFilter): Promise<Segment[]> {
    const parameters: unknown[] = [tenantId, ownerId ?? null];
    const conditions = ['tenant_id = $1', '($2::uuid IS NULL OR owner_id = $2::uuid)'];
    if ('sessionId' in parent) {
      parameters.push(parent.sessionId);
      conditions.push(`session_id = $${parameters.length}`);
    } else {
      parameters.push(parent.runId);
      conditions.push(`run_id = $${parameters.length}`);
    }
    if (filter.kind !== undefined) {
      parameters.push(filter.kind);
      conditions.push(`kind = $${parameters.length}`);
    }
    if (filter.afterId !== undefined) {
      parameters.push(filter.afterId);
      conditions.push(`id > $${parameters.length}`);
    }
    parameters.push(filter.take);
    const rows: SegmentRow[] = await this.dataSource.query(
      `SELECT ${COLUMNS} FROM transcript_segments WHERE ${conditions.join(' AND ')} ORDER BY id LIMIT $${parameters.length}`,
      parameters,
    );
    return rows.map(toSegment);
  }
}
