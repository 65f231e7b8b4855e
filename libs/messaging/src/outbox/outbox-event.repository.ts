import type { EventEnvelope } from '@runyard/contracts';
import { type EntityManager, In, IsNull } from 'typeorm';
import type { MessageHeaders } from '../bus.js';
import { OutboxEventEntity } from './outbox-event.entity.js';

/** Advisory-lock class id for outbox relays ('RYOB'); the second key is a hash of the schema. */
const RELAY_LOCK_CLASS = 0x52594f42;

export interface OutboxRow {
  envelope: EventEnvelope;
  headers: MessageHeaders;
}

/**
 * The outbox's SQL. Unlike domain repositories its methods take no tenant: the relay moves every
 * tenant's events, and each row carries its own `tenant_id`. Every method runs on the caller's
 * EntityManager, so it joins the caller's transaction.
 */
export class OutboxEventRepository {
  /** One multi-row INSERT in raw SQL: this runs inside every state-changing transaction. */
  async insertAll(tx: EntityManager, rows: OutboxRow[]): Promise<void> {
    if (rows.length === 0) return;
    const values: unknown[] = [];
    const tuples = rows.map(({ envelope, headers }, index) => {
      values.push(envelope.id, envelope.subject, envelope.tenant_id, JSON.stringify(envelope), JSON.stringify(headers));
      const at = index * 5;
      return `($${at + 1}, $${at + 2}, $${at + 3}, $${at + 4}::jsonb, $${at + 5}::jsonb)`;
    });
    await tx.query(`INSERT INTO outbox_events (id, subject, tenant_id, envelope, headers) VALUES ${tuples.join(', ')}`, values);
  }

  /**
   * Takes the relay lock of this schema until the transaction ends, or answers false at once if
   * another relay holds it. Without a schema name it keys on the session's current schema.
   */
  async tryLockRelay(tx: EntityManager, schema: string | undefined): Promise<boolean> {
    const rows: Array<{ locked: boolean }> = await tx.query(
      `SELECT pg_try_advisory_xact_lock($1::int, hashtext('runyard.outbox.' || coalesce($2::text, current_schema()))) AS locked`,
      [RELAY_LOCK_CLASS, schema ?? null],
    );
    return rows[0]?.locked === true;
  }

  async findUnpublished(tx: EntityManager, limit: number): Promise<OutboxEventEntity[]> {
    return tx.find(OutboxEventEntity, { where: { publishedAt: IsNull() }, order: { position: 'ASC' }, take: limit });
  }

  async markPublished(tx: EntityManager, ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await tx.query(`UPDATE outbox_events SET published_at = now() WHERE id = ANY($1::uuid[])`, [ids]);
  }

  /** Deletes at most `limit` rows published before `cutoff`; returns how many. */
  async deletePublishedBefore(manager: EntityManager, cutoff: Date, limit: number): Promise<number> {
    const expired: Array<{ id: string }> = await manager
      .createQueryBuilder(OutboxEventEntity, 'e')
      .select('e.id', 'id')
      .where('e.published_at < :cutoff', { cutoff })
      .orderBy('e.published_at', 'ASC')
      .limit(limit)
      .getRawMany();
    if (expired.length === 0) return 0;
    await manager.delete(OutboxEventEntity, { id: In(expired.map((row) => row.id)) });
    return expired.length;
  }
}
