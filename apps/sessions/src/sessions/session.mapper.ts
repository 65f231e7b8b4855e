import type { SessionView } from '@runyard/contracts';
import type { SessionEntity } from './session.entity.js';

/** Entity → wire view: snake_case, RFC 3339 UTC timestamps, message_count from the last seq. */
export function toSessionView(session: SessionEntity): SessionView {
  return {
    id: session.id,
    tenant_id: session.tenantId,
    owner_id: session.ownerId,
    parent_session_id: session.parentSessionId,
    title: session.title,
    status: session.status,
    metadata: session.metadata,
    route_policy: session.routePolicy,
    reply_targets: session.replyTargets,
    message_count: session.lastMessageSeq,
    created_at: session.createdAt.toISOString(),
    updated_at: session.updatedAt.toISOString(),
    archived_at: session.archivedAt === null ? null : session.archivedAt.toISOString(),
  };
}

/** The envelope fields of every event about a session: members' streams filter on owner_id. */
export function sessionEventScope(session: Pick<SessionEntity, 'tenantId' | 'ownerId' | 'id'>): {
  tenant_id: string;
  owner_id: string;
  session_id: string;
} {
  return { tenant_id: session.tenantId, owner_id: session.ownerId, session_id: session.id };
}
