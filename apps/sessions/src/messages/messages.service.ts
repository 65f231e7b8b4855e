import { Injectable } from '@nestjs/common';
import {
  DomainError,
  ErrorCode,
  ownerFilter,
  type AppendMessageBody,
  type CallerScope,
  type ChatMessageView,
  type ListMessagesQuery,
  type Page,
} from '@runyard/contracts';
import { decodeCursor, encodeCursor, rowsToFetch, toPage } from '@runyard/persistence';
import { sessionNotFound } from '../sessions/session-errors.js';
import { SessionsRepository } from '../sessions/sessions.repository.js';
import { toChatMessageView } from './chat-message.mapper.js';
import { MessageAppender } from './message-appender.service.js';
import { normaliseMessageContent } from './message-content.js';
import { MessagesRepository } from './messages.repository.js';

@Injectable()
export class MessagesService {
  constructor(
    private readonly sessions: SessionsRepository,
    private readonly messages: MessagesRepository,
    private readonly appender: MessageAppender,
  ) {}

  /** Appends to an active session visible to the caller, at the next seq of that session. */
  append(scope: CallerScope, sessionId: string, body: AppendMessageBody): Promise<ChatMessageView> {
    return this.appender.append(scope, sessionId, { role: body.role, content: normaliseMessageContent(body), metadata: body.metadata });
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
