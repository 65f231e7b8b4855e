import { describe, expect, it } from '@jest/globals';
import type { SessionEntity } from './session.entity.js';
import { sessionEventScope, toSessionView } from './session.mapper.js';

const session: SessionEntity = {
  id: '019a0000-0000-7000-8000-000000000001',
  tenantId: '019a0000-0000-7000-8000-0000000000a1',
  ownerId: '019a0000-0000-7000-8000-0000000000b1',
  parentSessionId: '019a0000-0000-7000-8000-000000000000',
  title: 'Quarterly report',
  status: 'archived',
  metadata: { team: 'finance' },
  routePolicy: { provider: 'anthropic', model: 'claude-sonnet-4' },
  replyTargets: [{ channel: 'slack', address: 'C0123' }],
  lastMessageSeq: 7,
  createdAt: new Date(Date.UTC(2025, 0, 2, 3, 4, 5, 6)),
  updatedAt: new Date(Date.UTC(2025, 0, 3)),
  archivedAt: new Date(Date.UTC(2025, 0, 4)),
};

describe('toSessionView', () => {
  it('maps every field to snake_case with RFC 3339 UTC timestamps and the message count', () => {
    expect(toSessionView(session)).toEqual({
      id: session.id,
      tenant_id: session.tenantId,
      owner_id: session.ownerId,
      parent_session_id: session.parentSessionId,
      title: 'Quarterly report',
      status: 'archived',
      metadata: { team: 'finance' },
      route_policy: { provider: 'anthropic', model: 'claude-sonnet-4' },
      reply_targets: [{ channel: 'slack', address: 'C0123' }],
      message_count: 7,
      created_at: '2025-01-02T03:04:05.006Z',
      updated_at: '2025-01-03T00:00:00.000Z',
      archived_at: '2025-01-04T00:00:00.000Z',
    });
  });

  it('keeps absent optional values as null', () => {
    const view = toSessionView({ ...session, parentSessionId: null, title: null, routePolicy: null, archivedAt: null, status: 'active' });
    expect(view).toMatchObject({ parent_session_id: null, title: null, route_policy: null, archived_at: null, status: 'active' });
  });

  it('gives events the tenant, owner and session of the session', () => {
    expect(sessionEventScope(session)).toEqual({ tenant_id: session.tenantId, owner_id: session.ownerId, session_id: session.id });
  });
});
