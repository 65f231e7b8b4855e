import { Injectable } from '@nestjs/common';
import {
  ownerFilter,
  SessionArchived,
  SessionCreated,
  SessionUpdated,
  type CallerScope,
  type CreateSessionBody,
  type ListSessionsQuery,
  type Page,
  type ReplyTarget,
  type RoutePolicy,
  type SessionView,
  type UpdateSessionBody,
} from '@runyard/contracts';
import { newEvent, TransactionalOutbox } from '@runyard/messaging';
import { decodeIdCursor, encodeIdCursor, parseTimestamp, rowsToFetch, toPage, toPlainJson } from '@runyard/persistence';
import { v7 as uuidv7 } from 'uuid';
import { sessionArchived, sessionNotFound } from './session-errors.js';
import type { SessionEntity, StoredReplyTarget, StoredRoutePolicy } from './session.entity.js';
import { sessionEventScope, toSessionView } from './session.mapper.js';
import { SessionsRepository, type SessionListFilters, type SessionSettings } from './sessions.repository.js';

@Injectable()
export class SessionsService {
  constructor(
    private readonly sessions: SessionsRepository,
    private readonly outbox: TransactionalOutbox,
  ) {}

  /** A sub-session lives in its parent's tenant and belongs to the parent's owner, whoever creates it. */
  create(scope: CallerScope, body: CreateSessionBody): Promise<SessionView> {
    return this.outbox.run(async (tx, events) => {
      let ownerId = scope.principal_id;
      const parentSessionId = body.parent_session_id ?? null;
      if (parentSessionId !== null) {
        const parent = await this.sessions.lockVisibleAsParent(tx, scope.tenant_id, ownerFilter(scope), parentSessionId);
        if (parent === null) throw sessionNotFound(parentSessionId);
        if (parent.status === 'archived') throw sessionArchived(parentSessionId);
        ownerId = parent.ownerId;
      }
      const now = new Date();
      const session: SessionEntity = {
        id: uuidv7(),
        tenantId: scope.tenant_id,
        ownerId,
        parentSessionId,
        title: body.title ?? null,
        status: 'active',
        metadata: toPlainJson(body.metadata ?? {}),
        routePolicy: body.route_policy === undefined ? null : toStoredRoutePolicy(body.route_policy),
        replyTargets: (body.reply_targets ?? []).map(toStoredReplyTarget),
        lastMessageSeq: 0,
        createdAt: now,
        updatedAt: now,
        archivedAt: null,
      };
      await this.sessions.insertSession(tx, session);
      const view = toSessionView(session);
      events.add(newEvent(SessionCreated, sessionEventScope(session), view));
      return view;
    });
  }

  async get(scope: CallerScope, sessionId: string): Promise<SessionView> {
    const session = await this.sessions.findVisible(scope.tenant_id, ownerFilter(scope), sessionId);
    if (session === null) throw sessionNotFound(sessionId);
    return toSessionView(session);
  }

  /** Newest first, keyset-paginated on the id. */
  async list(scope: CallerScope, query: ListSessionsQuery): Promise<Page<SessionView>> {
    const filters: SessionListFilters = {
      parentSessionId: query.parent_session_id,
      status: query.status,
      createdAfter: query.created_after === undefined ? undefined : parseTimestamp('created_after', query.created_after),
      createdBefore: query.created_before === undefined ? undefined : parseTimestamp('created_before', query.created_before),
    };
    const beforeId = query.cursor === undefined ? undefined : decodeIdCursor(query.cursor);
    const rows = await this.sessions.listVisible(scope.tenant_id, ownerFilter(scope), filters, { beforeId, take: rowsToFetch(query.limit) });
    return toPage(rows, query.limit, toSessionView, (session) => encodeIdCursor(session.id));
  }

  /** PATCH semantics: each field given replaces the stored one; a body without fields changes nothing. */
  update(scope: CallerScope, sessionId: string, body: UpdateSessionBody): Promise<SessionView> {
    return this.outbox.run(async (tx, events) => {
      const session = await this.sessions.lockVisibleForChange(tx, scope.tenant_id, ownerFilter(scope), sessionId);
      if (session === null) throw sessionNotFound(sessionId);
      if (session.status === 'archived') throw sessionArchived(sessionId);
      const settings = settingsFrom(body);
      if (Object.keys(settings).length === 0) return toSessionView(session);
      const updatedAt = new Date();
      await this.sessions.updateSettings(tx, session.tenantId, session.id, settings, updatedAt);
      const view = toSessionView(Object.assign(session, settings, { updatedAt }));
      events.add(newEvent(SessionUpdated, sessionEventScope(session), view));
      return view;
    });
  }

  /** Idempotent: archiving an archived session returns it as it is and emits nothing. */
  archive(scope: CallerScope, sessionId: string): Promise<SessionView> {
    return this.outbox.run(async (tx, events) => {
      const session = await this.sessions.lockVisibleForChange(tx, scope.tenant_id, ownerFilter(scope), sessionId);
      if (session === null) throw sessionNotFound(sessionId);
      if (session.status === 'archived') return toSessionView(session);
      const archivedAt = new Date();
      await this.sessions.markArchived(tx, session.tenantId, session.id, archivedAt);
      const view = toSessionView(Object.assign(session, { status: 'archived' as const, archivedAt, updatedAt: archivedAt }));
      events.add(newEvent(SessionArchived, sessionEventScope(session), view));
      return view;
    });
  }
}

function settingsFrom(body: UpdateSessionBody): SessionSettings {
  const settings: SessionSettings = {};
  if (body.title !== undefined) settings.title = body.title;
  if (body.metadata !== undefined) settings.metadata = toPlainJson(body.metadata);
  if (body.route_policy !== undefined) settings.routePolicy = body.route_policy === null ? null : toStoredRoutePolicy(body.route_policy);
  if (body.reply_targets !== undefined) settings.replyTargets = body.reply_targets.map(toStoredReplyTarget);
  return settings;
}

function toStoredRoutePolicy(policy: RoutePolicy): StoredRoutePolicy {
  const stored: StoredRoutePolicy = {};
  if (policy.provider !== undefined) stored.provider = policy.provider;
  if (policy.model !== undefined) stored.model = policy.model;
  if (policy.executor !== undefined) stored.executor = policy.executor;
  return stored;
}

function toStoredReplyTarget(target: ReplyTarget): StoredReplyTarget {
  const stored: StoredReplyTarget = { channel: target.channel, address: target.address };
  if (target.metadata !== undefined) stored.metadata = toPlainJson(target.metadata);
  return stored;
}
