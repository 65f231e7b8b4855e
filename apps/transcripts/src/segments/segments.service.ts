import { Inject, Injectable } from '@nestjs/common';
import {
  CheckRunLease,
  DEFAULT_TRANSCRIPT_RETENTION_CLASS,
  DomainError,
  ErrorCode,
  GetRun,
  GetSession,
  ownerFilter,
  TranscriptSegmentCreated,
  type CallerScope,
  type CreateTranscriptSegmentBody,
  type ListTranscriptSegmentsQuery,
  type Page,
  type PostRunTranscriptSegmentPayload,
  type TranscriptSegmentCreatedData,
  type TranscriptSegmentView,
} from '@runyard/contracts';
import { BUS, newEvent, TransactionalOutbox, type Bus, type EventRefs } from '@runyard/messaging';
import { decodeIdCursor, encodeIdCursor, requestFingerprint, rowsToFetch, toPage, toPlainJson } from '@runyard/persistence';
import { v7 as uuidv7 } from 'uuid';
import { segmentExpiry, SEGMENTS_SETTINGS, type SegmentsSettings } from './segments-settings.js';
import { SegmentKeyTaken, SegmentsRepository, type KeyCreator, type Segment, type SegmentParent } from './segments.repository.js';

/** The caller's idempotency key and the fingerprint of the request it came with. */
interface Idempotency {
  key: string;
  fingerprint: string;
}

/** Who a new segment belongs to, as its session's or run's service said. */
interface Placement {
  tenantId: string;
  ownerId: string;
  sessionId: string | null;
  runId: string | null;
}

export function toSegmentView(segment: Segment): TranscriptSegmentView {
  return {
    id: segment.id,
    tenant_id: segment.tenantId,
    kind: segment.kind,
    session_id: segment.sessionId,
    run_id: segment.runId,
    content: segment.content,
    metadata: segment.metadata,
    retention_class: segment.retentionClass,
    expires_at: segment.expiresAt === null ? null : segment.expiresAt.toISOString(),
    created_by: segment.createdBy,
    created_at: segment.createdAt.toISOString(),
  };
}

function createdData(segment: Segment): TranscriptSegmentCreatedData {
  const { content: _content, metadata: _metadata, tenant_id: _tenant, ...view } = toSegmentView(segment);
  return { ...view, content_bytes: segment.contentBytes };
}

function segmentRefs(segment: Segment): EventRefs {
  const refs: EventRefs = { tenant_id: segment.tenantId, owner_id: segment.ownerId };
  if (segment.sessionId !== null) refs.session_id = segment.sessionId;
  if (segment.runId !== null) refs.run_id = segment.runId;
  return refs;
}

function segmentNotFound(id: string): DomainError {
  return new DomainError(ErrorCode.NOT_FOUND, `transcript segment ${id} not found`);
}

function keyReused(): DomainError {
  return new DomainError(ErrorCode.IDEMPOTENCY_KEY_REUSED, 'This idempotency key was already used for another request');
}

/**
 * Transcript segments: derived summaries written for a session or a run, by principals (within their
 * scope) or by the worker holding a run's lease, each filed under a retention class with its expiry.
 * Who may read a segment is stored on it at creation (the owner of its session or run), so reads ask
 * no other service.
 */
@Injectable()
export class SegmentsService {
  constructor(
    private readonly segments: SegmentsRepository,
    private readonly outbox: TransactionalOutbox,
    @Inject(BUS) private readonly bus: Bus,
    @Inject(SEGMENTS_SETTINGS) private readonly settings: SegmentsSettings,
  ) {}

  /** For a session the caller can see (NOT_FOUND otherwise, from the sessions service). */
  async createForSession(scope: CallerScope, sessionId: string, body: CreateTranscriptSegmentBody, idempotencyKey?: string): Promise<TranscriptSegmentView> {
    const idempotency = idempotencyKey === undefined ? null : { key: idempotencyKey, fingerprint: requestFingerprint({ target: { session_id: sessionId }, body }) };
    const earlier = await this.earlier(scope, idempotency);
    if (earlier !== null) return earlier;
    const session = await this.bus.request(GetSession, { scope, session_id: sessionId });
    const placement = { tenantId: scope.tenant_id, ownerId: session.owner_id, sessionId: session.id, runId: null };
    return this.createByPrincipal(scope, placement, body, idempotency);
  }

  /** For a run the caller can see (NOT_FOUND otherwise, from the runs service); filed under the run's session too. */
  async createForRun(scope: CallerScope, runId: string, body: CreateTranscriptSegmentBody, idempotencyKey?: string): Promise<TranscriptSegmentView> {
    const idempotency = idempotencyKey === undefined ? null : { key: idempotencyKey, fingerprint: requestFingerprint({ target: { run_id: runId }, body }) };
    const earlier = await this.earlier(scope, idempotency);
    if (earlier !== null) return earlier;
    const run = await this.bus.request(GetRun, { scope, run_id: runId });
    const placement = { tenantId: scope.tenant_id, ownerId: run.owner_id, sessionId: run.session_id, runId: run.id };
    return this.createByPrincipal(scope, placement, body, idempotency);
  }

  /**
   * A worker's segment for the run it holds. The runs service vouches for the lease (and says until
   * when it holds); the insert commits only if that time, less a margin for the two services' clocks,
   * has not passed by the end of the transaction. A run changes hands only once its lease expired, so
   * a worker that lost its lease cannot write here. Once per (run, key): a repeat returns the first.
   */
  async postForRun(payload: PostRunTranscriptSegmentPayload): Promise<TranscriptSegmentView> {
    const { tenant_id: tenantId, run_id: runId } = payload;
    const lease = await this.bus.request(CheckRunLease, { tenant_id: tenantId, run_id: runId, lease_token: payload.lease_token });
    const creator: KeyCreator = { runId };
    const key = `worker:${payload.key}`;
    const earlier = await this.segments.findByKey(tenantId, creator, key);
    if (earlier !== null) return toSegmentView(earlier);
    const commitBy = Date.parse(lease.lease_expires_at) - this.settings.leaseCommitMarginMs;
    const placement = { tenantId, ownerId: lease.owner_id, sessionId: lease.session_id, runId };
    const segment = this.newSegment(placement, payload, null, { key, fingerprint: '' });
    try {
      return await this.store(segment, () => {
        if (Date.now() >= commitBy) throw new DomainError(ErrorCode.LEASE_LOST, `the lease on run ${runId} ran out before the segment could be stored`);
      });
    } catch (error) {
      if (!(error instanceof SegmentKeyTaken)) throw error;
      const winner = await this.segments.findByKey(tenantId, creator, key);
      if (winner === null) throw error;
      return toSegmentView(winner);
    }
  }

  async get(scope: CallerScope, segmentId: string): Promise<TranscriptSegmentView> {
    const segment = await this.segments.findVisible(scope.tenant_id, ownerFilter(scope), segmentId);
    if (segment === null) throw segmentNotFound(segmentId);
    return toSegmentView(segment);
  }

  /** Oldest first (reading order), keyset-paginated on the id (UUIDv7: creation order). */
  async list(scope: CallerScope, parent: SegmentParent, query: ListTranscriptSegmentsQuery): Promise<Page<TranscriptSegmentView>> {
    const afterId = query.cursor === undefined ? undefined : decodeIdCursor(query.cursor);
    const rows = await this.segments.listVisible(scope.tenant_id, ownerFilter(scope), parent, { kind: query.kind, afterId, take: rowsToFetch(query.limit) });
    return toPage(rows, query.limit, toSegmentView, (row) => encodeIdCursor(row.id));
  }

  /**
   * The segment this principal created with the key, if any: answered before anything the original
   * needed is checked again (its run may have ended, its session been archived). Same request only.
   */
  private async earlier(scope: CallerScope, idempotency: Idempotency | null): Promise<TranscriptSegmentView | null> {
    if (idempotency === null) return null;
    const earlier = await this.segments.findByKey(scope.tenant_id, { createdBy: scope.principal_id }, idempotency.key);
    return earlier === null ? null : this.retried(scope, earlier, idempotency);
  }

  private retried(scope: CallerScope, earlier: Segment, idempotency: Idempotency): TranscriptSegmentView {
    if (earlier.idempotencyFingerprint !== idempotency.fingerprint) throw keyReused();
    const owner = ownerFilter(scope);
    if (owner !== undefined && earlier.ownerId !== owner) throw segmentNotFound(earlier.id);
    return toSegmentView(earlier);
  }

  private async createByPrincipal(
    scope: CallerScope,
    placement: Placement,
    body: CreateTranscriptSegmentBody,
    idempotency: Idempotency | null,
  ): Promise<TranscriptSegmentView> {
    const segment = this.newSegment(placement, body, scope.principal_id, idempotency, body.retention_class);
    try {
      return await this.store(segment);
    } catch (error) {
      if (!(error instanceof SegmentKeyTaken) || idempotency === null) throw error;
      // A duplicate committed first (the unique index ordered the two): answer with its segment.
      const winner = await this.segments.findByKey(scope.tenant_id, { createdBy: scope.principal_id }, idempotency.key);
      if (winner === null) throw keyReused();
      return this.retried(scope, winner, idempotency);
    }
  }

  /** Inserts the segment with its event; `beforeCommit` may still refuse (it runs last in the transaction). */
  private store(segment: Segment, beforeCommit?: () => void): Promise<TranscriptSegmentView> {
    return this.outbox.run(async (tx, events) => {
      await this.segments.insert(tx, segment);
      events.add(newEvent(TranscriptSegmentCreated, segmentRefs(segment), createdData(segment)));
      beforeCommit?.();
      return toSegmentView(segment);
    });
  }

  private newSegment(
    placement: Placement,
    fields: { kind: Segment['kind']; content: string; metadata?: Record<string, unknown> },
    createdBy: string | null,
    idempotency: Idempotency | null,
    retentionClass = DEFAULT_TRANSCRIPT_RETENTION_CLASS,
  ): Segment {
    const createdAt = new Date();
    return {
      id: uuidv7(),
      ...placement,
      kind: fields.kind,
      content: fields.content,
      contentBytes: Buffer.byteLength(fields.content, 'utf8'),
      metadata: toPlainJson(fields.metadata ?? {}),
      retentionClass,
      expiresAt: segmentExpiry(createdAt, this.settings.retentionDays[retentionClass]),
      createdBy,
      idempotencyKey: idempotency?.key ?? null,
      idempotencyFingerprint: idempotency === null || idempotency.fingerprint === '' ? null : idempotency.fingerprint,
      createdAt,
    };
  }
}
