import { Injectable } from '@nestjs/common';
import { MessageAppended, ownerFilter, type CallerScope, type ChatMessageView, type ChatRole } from '@runyard/contracts';
import { newEvent, TransactionalOutbox } from '@runyard/messaging';
import { toPlainJson } from '@runyard/persistence';
import { v7 as uuidv7 } from 'uuid';
import { sessionArchived, sessionNotFound } from '../sessions/session-errors.js';
import { SessionsRepository } from '../sessions/sessions.repository.js';
import type { ChatMessageEntity } from './chat-message.entity.js';
import { toChatMessageView } from './chat-message.mapper.js';
import type { MessageContent } from './message-content.js';
import { IdempotencyKeyTaken, MessagesRepository } from './messages.repository.js';

/** A caller's message, its content already normalised (`normaliseMessageContent`). */
export interface CallerMessage {
  role: ChatRole;
  content: MessageContent;
  metadata?: Record<string, unknown>;
}

/**
 * Appends the caller's messages to the chat (plain appends and turns): to an active session visible
 * to the caller, at the session's next seq, authored by the caller, with MessageAppended through the
 * outbox. (The messages runs post are recorded by RunMessagesService, on other terms.)
 */
@Injectable()
export class MessageAppender {
  constructor(
    private readonly sessions: SessionsRepository,
    private readonly messages: MessagesRepository,
    private readonly outbox: TransactionalOutbox,
  ) {}

  /**
   * With an idempotency key, the session holds at most one message of the caller's with that key: when
   * a concurrent append with the same key commits first, this one changes nothing and returns that
   * message. (Looking for an earlier one first is the caller's business: `findAppended`.)
   */
  async append(scope: CallerScope, sessionId: string, message: CallerMessage, idempotencyKey?: string): Promise<ChatMessageView> {
    try {
      return await this.insert(scope, sessionId, message, idempotencyKey ?? null);
    } catch (error) {
      if (!(error instanceof IdempotencyKeyTaken) || idempotencyKey === undefined) throw error;
      // The transaction that lost is over: read the winner's message.
      const winner = await this.findAppended(scope, sessionId, idempotencyKey);
      if (winner === null) throw error;
      return winner;
    }
  }

  /** The caller's message appended to the session with `idempotencyKey`, if any. */
  async findAppended(scope: CallerScope, sessionId: string, idempotencyKey: string): Promise<ChatMessageView | null> {
    const message = await this.messages.findByIdempotencyKey(scope.tenant_id, sessionId, scope.principal_id, idempotencyKey);
    return message === null ? null : toChatMessageView(message);
  }

  private insert(scope: CallerScope, sessionId: string, { role, content, metadata }: CallerMessage, idempotencyKey: string | null): Promise<ChatMessageView> {
    return this.outbox.run(async (tx, events) => {
      // Holds the session row to commit: appends to one session take turns, so seqs have no gaps.
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
        role,
        content: content.content,
        inputItems: content.inputItems,
        metadata: metadata === undefined ? {} : toPlainJson(metadata),
        authorId: scope.principal_id,
        createdAt: new Date(),
      };
      await this.messages.insertMessage(tx, message, idempotencyKey);
      const view = toChatMessageView(message);
      events.add(newEvent(MessageAppended, { tenant_id: scope.tenant_id, owner_id: allocated.ownerId, session_id: sessionId }, view));
      return view;
    });
  }
}
