import { Injectable } from '@nestjs/common';
import { MessageAppended, type ChatMessageView } from '@runyard/contracts';
import { newEvent, TransactionalOutbox } from '@runyard/messaging';
import { toPlainJson } from '@runyard/persistence';
import { v7 as uuidv7 } from 'uuid';
import type { ChatMessageEntity } from '../messages/chat-message.entity.js';
import { toChatMessageView } from '../messages/chat-message.mapper.js';
import { MessagesRepository } from '../messages/messages.repository.js';
import { SessionsRepository } from '../sessions/sessions.repository.js';

/** An assistant message a run posted, as its event carries it (validated). */
export interface PostedRunMessage {
  tenantId: string;
  sessionId: string;
  runId: string;
  key: string;
  content: string;
  metadata: Record<string, unknown>;
}

export type RecordOutcome =
  | { outcome: 'appended'; message: ChatMessageView }
  /** This (run, key) was recorded before: a redelivery or a second publish. */
  | { outcome: 'duplicate' }
  /** The tenant has no such session: there is nowhere to record it. */
  | { outcome: 'no_session' };

/** Rolls back a recording that found its (run, key) taken after all; nothing of it may commit. */
class AlreadyRecorded extends Error {}

/**
 * Records the assistant messages runs post into their session's chat, exactly once per (tenant,
 * run, key), with MessageAppended through the outbox like any append. An archived session still gets
 * them: the chat is the record of what was said, and a run may answer after its session was archived.
 * The author is the session's owner (runs act for their session's owner); `run_id` names the run.
 */
@Injectable()
export class RunMessagesService {
  constructor(
    private readonly sessions: SessionsRepository,
    private readonly messages: MessagesRepository,
    private readonly outbox: TransactionalOutbox,
  ) {}

  async record(posted: PostedRunMessage): Promise<RecordOutcome> {
    try {
      return await this.outbox.run(async (tx, events): Promise<RecordOutcome> => {
        // The session row lock orders this against other recordings and appends in the session.
        const session = await this.sessions.lockInAnyStatus(tx, posted.tenantId, posted.sessionId);
        if (session === null) return { outcome: 'no_session' };
        if (await this.messages.hasRunMessage(tx, posted.tenantId, posted.runId, posted.key)) return { outcome: 'duplicate' };
        const message: ChatMessageEntity & { runId: string } = {
          id: uuidv7(),
          sessionId: posted.sessionId,
          tenantId: posted.tenantId,
          seq: await this.sessions.allocateMessageSeqInAnyStatus(tx, posted.tenantId, posted.sessionId),
          role: 'assistant',
          content: posted.content,
          inputItems: [{ type: 'text', text: posted.content }],
          metadata: toPlainJson(posted.metadata),
          authorId: session.ownerId,
          runId: posted.runId,
          createdAt: new Date(),
        };
        // The unique index has the last word; losing to it must also undo the seq just taken.
        if (!(await this.messages.insertRunMessage(tx, message, posted.key))) throw new AlreadyRecorded();
        const view = toChatMessageView(message);
        events.add(newEvent(MessageAppended, { tenant_id: posted.tenantId, owner_id: session.ownerId, session_id: posted.sessionId }, view));
        return { outcome: 'appended', message: view };
      });
    } catch (error) {
      if (error instanceof AlreadyRecorded) return { outcome: 'duplicate' };
      throw error;
    }
  }
}
