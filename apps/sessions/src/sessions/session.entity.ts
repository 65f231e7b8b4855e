import type { ReplyTarget, RoutePolicy, SessionStatus } from '@runyard/contracts';
import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/** Route policy and reply targets as stored: plain JSON, exactly what the caller gave. */
export type StoredRoutePolicy = Pick<RoutePolicy, 'provider' | 'model' | 'executor'>;
export type StoredReplyTarget = Pick<ReplyTarget, 'channel' | 'address' | 'metadata'>;

/** A session (or sub-session) of one tenant. Indexes mirror migration 1763600000001. */
@Entity({ name: 'sessions' })
@Index('sessions_tenant_id_idx', ['tenantId', 'id'])
@Index('sessions_tenant_owner_id_idx', ['tenantId', 'ownerId', 'id'])
@Index('sessions_tenant_parent_id_idx', ['tenantId', 'parentSessionId', 'id'])
export class SessionEntity {
  @PrimaryColumn('uuid')
  id!: string;

  @Column('uuid', { name: 'tenant_id' })
  tenantId!: string;

  @Column('uuid', { name: 'owner_id' })
  ownerId!: string;

  @Column('uuid', { name: 'parent_session_id', nullable: true })
  parentSessionId!: string | null;

  @Column('text', { nullable: true })
  title!: string | null;

  @Column('text')
  status!: SessionStatus;

  @Column('jsonb')
  metadata!: Record<string, unknown>;

  @Column('jsonb', { name: 'route_policy', nullable: true })
  routePolicy!: StoredRoutePolicy | null;

  @Column('jsonb', { name: 'reply_targets' })
  replyTargets!: StoredReplyTarget[];

  /** The seq of the last chat message; appends increment it under the row lock. */
  @Column('integer', { name: 'last_message_seq' })
  lastMessageSeq!: number;

  @Column('timestamptz', { name: 'created_at' })
  createdAt!: Date;

  @Column('timestamptz', { name: 'updated_at' })
  updatedAt!: Date;

  @Column('timestamptz', { name: 'archived_at', nullable: true })
  archivedAt!: Date | null;
}
