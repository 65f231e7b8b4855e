import { Injectable } from '@nestjs/common';
import {
  DomainError,
  ErrorCode,
  MessageAppended,
  ownerFilter,
  type AppendMessageBody,
  type CallerScope,
  type ChatMessageView,
  type ListMessagesQuery,
  type Page,
} from '@runyard/contracts';
import { newEvent, TransactionalOutbox } from '@runyard/messaging';
import { decodeCursor, encodeCursor, rowsToFetch, toPage, toPlainJson } from '@runyard/persistence';
import { v7 as uuidv7 } from 'uuid';
import { sessionArchived, sessionNotFound } from '../sessions/session-errors.js';
import { SessionsRepository } from '../sessions/sessions.repository.js';
import type { ChatMessageEntity } from './chat-message.entity.js';
import { toChatMessageView } from './chat-message.mapper.js';
import { normaliseMessageContent } from './message-content.js';
import { MessagesRepository } from './messages.repository.js';

@Injectable()
export class MessagesService {
  constructor(
    private readonly sessions: SessionsRepository,
    private readonly messages: MessagesRepository,
    private readonly outbox: TransactionalOutbox,
  ) {}

  /** Appends to an active session visible to the caller, at the next seq of that session. */
  append(scope: CallerScope, sessionId: string, body: AppendMessageBody): Promise<ChatMessageView> {
    const { content, inputItems } = normaliseMessageContent(body);
    return this.outbox.run(async (tx, events) => {
      const allocated = await this.sessions.allocateMessageSeq(tx, scope.tenant_id, ownerFilter(scope), sessionId);
      if (allocated === null) {
        // Nothing was changed; tell an archived session (SESSION_ARCHIVED) from one the caller cannot see.
        const session = await this.sessions.findVisible(scope.tenant_id, ownerFilter(scope), sessionId, tx);
        throw session === null ? sessionNotFound(sessionId) : sessionArchived(sessionId);
      }
      const message: ChatMessageEntity = {
        id: uuidv7(),
        sessionId,
        tenantId: scope.tenant_id,
        seq: allocated.seq,
        role: body.role,
        content,
        inputItems,
        metadata: body.metadata === undefined ? {} : toPlainJson(body.metadata),
        authorId: scope.principal_id,
        createdAt: new Date(),
      };
      await this.messages.insertMessage(tx, message);
      const view = toChatMessageView(message);
      events.add(newEvent(MessageAppended, { tenant_id: scope.tenant_id, owner_id: allocated.ownerId, session_id: sessionId }, view));
      return view;
    });
  }

  /** Ascending seq, after `after_seq` and after the cursor's seq, whichever is further. */
  async list(scope: CallerScope, sessionId: string, query: ListMessagesQuery): Promise<Page<ChatMessageView>> {
    const session = await this.sessions.findVisible(scope.tenant_id, ownerFilter(scope), sessionId);
    if (session === null) throw sessionNotFound(sessionId);
    const afterSeq = Math.max(query.after_seq ?? 0, query.cursor === undefined ? 0 : decodeMessageCursor(query.cursor));
    const rows = await this.messages.listInSession(session.tenantId, session.id, { afterSeq, take: rowsToFetch(query.limit) });
    return toPage(rows, query.limit, toChatMessageView, (message) => encodeCursor({ seq: message.seq }));
  }
}

function decodeMessageCursor(cursor: string): number {
  const { seq } = decodeCursor<{ seq: number }>(cursor, { seq: 'number' });
  if (!Number.isSafeInteger(seq) || seq < 0) throw new DomainError(ErrorCode.INVALID_CURSOR, 'cursor is not one this API returned');
  return seq;
}
