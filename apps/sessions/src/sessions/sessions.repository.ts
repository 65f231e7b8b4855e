import { Injectable } from '@nestjs/common';
import type { SessionStatus } from '@runyard/contracts';
import { DataSource, type EntityManager, type SelectQueryBuilder } from 'typeorm';
import { SessionEntity } from './session.entity.js';
import { withJsonbColumns } from '@runyard/persistence';

/**
 * `ownerId` is the caller's owner filter (`ownerFilter(scope)`): a principal id restricts every
 * method to that owner's sessions, `undefined` (admins) to the whole tenant. It is a required
 * argument so that no query can forget it.
 */
export type OwnerFilter = string | undefined;

export interface SessionListFilters {
  parentSessionId?: string;
  status?: SessionStatus;
  createdAfter?: Date;
  createdBefore?: Date;
}

export type SessionSettings = Partial<Pick<SessionEntity, 'title' | 'metadata' | 'routePolicy' | 'replyTargets'>>;

@Injectable()
export class SessionsRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** Raw SQL: creating a session is the hot path, and TypeORM's insert builder costs more CPU than the database does. */
  async insertSession(tx: EntityManager, session: SessionEntity): Promise<void> {
    await tx.query(
      `INSERT INTO sessions (id, tenant_id, owner_id, parent_session_id, title, status, metadata, route_policy, reply_targets,
                             last_message_seq, created_at, updated_at, archived_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb, $9::jsonb, $10, $11, $12, $13)`,
      [
        session.id,
        session.tenantId,
        session.ownerId,
        session.parentSessionId,
        session.title,
        session.status,
        JSON.stringify(session.metadata),
        session.routePolicy === null ? null : JSON.stringify(session.routePolicy),
        JSON.stringify(session.replyTargets),
        session.lastMessageSeq,
        session.createdAt,
        session.updatedAt,
        session.archivedAt,
      ],
    );
  }

  findVisible(tenantId: string, ownerId: OwnerFilter, sessionId: string, tx: EntityManager = this.dataSource.manager): Promise<SessionEntity | null> {
    return this.visible(tx, tenantId, ownerId).andWhere('s.id = :sessionId', { sessionId }).getOne();
  }

  /** Reads the session and holds its row until the transaction ends, so changes to it serialise. */
  lockVisibleForChange(tx: EntityManager, tenantId: string, ownerId: OwnerFilter, sessionId: string): Promise<SessionEntity | null> {
    return this.visible(tx, tenantId, ownerId).andWhere('s.id = :sessionId', { sessionId }).setLock('pessimistic_write').getOne();
  }

  /** Reads a prospective parent and keeps it from being archived while a sub-session is created under it. */
  lockVisibleAsParent(tx: EntityManager, tenantId: string, ownerId: OwnerFilter, sessionId: string): Promise<SessionEntity | null> {
    return this.visible(tx, tenantId, ownerId).andWhere('s.id = :sessionId', { sessionId }).setLock('pessimistic_read').getOne();
  }

  /** Newest first; `beforeId` continues after the last id of the previous page (UUIDv7 ids are time-ordered). */
  listVisible(tenantId: string, ownerId: OwnerFilter, filters: SessionListFilters, page: { beforeId?: string; take: number }): Promise<SessionEntity[]> {
    const query = this.visible(this.dataSource.manager, tenantId, ownerId);
    if (filters.parentSessionId !== undefined) query.andWhere('s.parent_session_id = :parentSessionId', { parentSessionId: filters.parentSessionId });
    if (filters.status !== undefined) query.andWhere('s.status = :status', { status: filters.status });
    if (filters.createdAfter !== undefined) query.andWhere('s.created_at > :createdAfter', { createdAfter: filters.createdAfter });
    if (filters.createdBefore !== undefined) query.andWhere('s.created_at < :createdBefore', { createdBefore: filters.createdBefore });
    if (page.beforeId !== undefined) query.andWhere('s.id < :beforeId', { beforeId: page.beforeId });
    return query.orderBy('s.id', 'DESC').limit(page.take).getMany();
  }

  async updateSettings(tx: EntityManager, tenantId: string, sessionId: string, settings: SessionSettings, updatedAt: Date): Promise<void> {
    await tx.update(SessionEntity, { tenantId, id: sessionId }, withJsonbColumns<SessionEntity>({ ...settings, updatedAt }));
  }

  async markArchived(tx: EntityManager, tenantId: string, sessionId: string, archivedAt: Date): Promise<void> {
    await tx.update(SessionEntity, { tenantId, id: sessionId }, { status: 'archived', archivedAt, updatedAt: archivedAt });
  }

  /**
   * Takes the next message seq of an active session visible to the caller: one UPDATE ... RETURNING,
   * whose row lock serialises concurrent appends until their transactions end, so seqs run 1..n with
   * no gap or duplicate. Null when there is no such active session (absent, not visible or archived).
   */
  async allocateMessageSeq(tx: EntityManager, tenantId: string, ownerId: OwnerFilter, sessionId: string): Promise<{ seq: number; ownerId: string } | null> {
    const query = tx
      .createQueryBuilder()
      .update(SessionEntity)
      .set({ lastMessageSeq: () => 'last_message_seq + 1' })
      .where('tenant_id = :tenantId AND id = :sessionId AND status = :active', { tenantId, sessionId, active: 'active' });
    if (ownerId !== undefined) query.andWhere('owner_id = :ownerId', { ownerId });
    // Property names here; the raw rows carry column names.
    const result = await query.returning(['lastMessageSeq', 'ownerId']).execute();
    const rows = result.raw as { last_message_seq: number; owner_id: string }[];
    const row = rows[0];
    return row === undefined ? null : { seq: Number(row.last_message_seq), ownerId: row.owner_id };
  }

  /**
   * Holds the session row, whatever its status and owner, until the transaction ends: for recording
   * a message a run posted, which takes turns with other recordings and appends in the session. Null
   * when the tenant has no such session.
   */
  async lockInAnyStatus(tx: EntityManager, tenantId: string, sessionId: string): Promise<{ ownerId: string } | null> {
    const rows = await tx.query<{ owner_id: string }[]>(`SELECT owner_id FROM sessions WHERE tenant_id = $1 AND id = $2 FOR UPDATE`, [tenantId, sessionId]);
    const row = rows[0];
    return row === undefined ? null : { ownerId: row.owner_id };
  }

  /** The next message seq of a session in any status (a run's message is recorded in an archived session too). Call with the session locked. */
  async allocateMessageSeqInAnyStatus(tx: EntityManager, tenantId: string, sessionId: string): Promise<number> {
    const result = await tx
      .createQueryBuilder()
      .update(SessionEntity)
      .set({ lastMessageSeq: () => 'last_message_seq + 1' })
      .where('tenant_id = :tenantId AND id = :sessionId', { tenantId, sessionId })
      .returning(['lastMessageSeq'])
      .execute();
    const row = (result.raw as { last_message_seq: number }[])[0];
    if (row === undefined) throw new Error(`session ${sessionId} vanished while locked`);
    return Number(row.last_message_seq);
  }

  private visible(manager: EntityManager, tenantId: string, ownerId: OwnerFilter): SelectQueryBuilder<SessionEntity> {
    const query = manager.createQueryBuilder(SessionEntity, 's').where('s.tenant_id = :tenantId', { tenantId });
    if (ownerId !== undefined) query.andWhere('s.owner_id = :ownerId', { ownerId });
    return query;
  }
}
