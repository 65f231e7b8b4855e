import type { EventEnvelope } from '@runyard/contracts';
import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import type { MessageHeaders } from '../bus.js';

/**
 * One event written in the same transaction as the state change it describes; the relay publishes
 * it and stamps `published_at`. Lives in each service's own schema (its data source's search_path).
 */
@Entity({ name: 'outbox_events' })
@Index('outbox_events_unpublished_idx', ['position'], { where: 'published_at IS NULL' })
@Index('outbox_events_published_at_idx', ['publishedAt'], { where: 'published_at IS NOT NULL' })
export class OutboxEventEntity {
  /** The event id (UUIDv7); also the bus's dedupe id. */
  @PrimaryColumn('uuid')
  id!: string;

  /** Insert order, which the relay publishes in (int8: a string, as `pg` returns it). */
  @Column({ type: 'bigint', insert: false, update: false })
  position!: string;

  @Column('text')
  subject!: string;

  @Column('uuid', { name: 'tenant_id' })
  tenantId!: string;

  /** The envelope as published (`data` is whatever JSON object the event carries). */
  @Column('jsonb')
  envelope!: EventEnvelope<object>;

  @Column('jsonb', { default: () => "'{}'::jsonb" })
  headers!: MessageHeaders;

  @Column('timestamptz', { name: 'created_at', default: () => 'now()' })
  createdAt!: Date;

  @Column('timestamptz', { name: 'published_at', nullable: true })
  publishedAt!: Date | null;
}
