import { Injectable } from '@nestjs/common';
import { isUniqueViolationOf } from '@runyard/persistence';
import { DataSource, type EntityManager } from 'typeorm';
import { ChatMessageEntity } from './chat-message.entity.js';

/** The unique index on (tenant_id, session_id, author_id, idempotency_key) (migration 1763800000003). */
const IDEMPOTENCY_KEY_INDEX = 'chat_messages_idempotency_key_idx';

/** A message with the same author and idempotency key committed first in this session; read it instead. */
export class IdempotencyKeyTaken extends Error {
  constructor() {
    super('idempotency key already used in this session');
    this.name = 'IdempotencyKeyTaken';
  }
}

/** What a stored message is keyed by, besides its id: at most one of the two. */
type MessageKeys = { idempotencyKey: string | null } | { runId: string; runMessageKey: string };

/**
 * The chat messages. Besides its id a message may carry one key that makes its append happen once:
 * the caller's idempotency key (per session and author), or the (run, key) of a message a run
 * posted. The keys are not entity columns (nothing reads them back), so inserts are SQL; every query
 * names the tenant.
 */
@Injectable()
export class MessagesRepository {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * Inserts a caller's message, with its idempotency key if any. Throws IdempotencyKeyTaken when a
   * concurrent append with the same key committed first (the transaction is then aborted).
   */
  async insertMessage(tx: EntityManager, message: ChatMessageEntity, idempotencyKey: string | null): Promise<void> {
    try {
      await this.insert(tx, message, { idempotencyKey }, '');
    } catch (error) {
      if (idempotencyKey !== null && isUniqueViolationOf(error, IDEMPOTENCY_KEY_INDEX)) throw new IdempotencyKeyTaken();
      throw error;
    }
  }

  /** The message `authorId` appended to the session with `idempotencyKey`, if any. */
  findByIdempotencyKey(tenantId: string, sessionId: string, authorId: string, idempotencyKey: string): Promise<ChatMessageEntity | null> {
    return this.dataSource.manager
      .createQueryBuilder(ChatMessageEntity, 'm')
      .where('m.tenant_id = :tenantId AND m.session_id = :sessionId AND m.author_id = :authorId AND m.idempotency_key = :idempotencyKey', {
        tenantId,
        sessionId,
        authorId,
        idempotencyKey,
      })
      .getOne();
  }

  async hasRunMessage(tx: EntityManager, tenantId: string, runId: string, runMessageKey: string): Promise<boolean> {
    const rows = await tx.query<unknown[]>(`SELECT 1 FROM chat_messages WHERE tenant_id = $1 AND run_id = $2 AND run_message_key = $3`, [
      tenantId,
      runId,
      runMessageKey,
    ]);
    return rows.length > 0;
  }

  /** Inserts the run's message unless (tenant, run, key) is recorded already; true when it was inserted. */
  async insertRunMessage(tx: EntityManager, message: ChatMessageEntity & { runId: string }, runMessageKey: string): Promise<boolean> {
    const inserted = await this.insert(
      tx,
      message,
      { runId: message.runId, runMessageKey },
      'ON CONFLICT (tenant_id, run_id, run_message_key) WHERE run_id IS NOT NULL DO NOTHING',
    );
    return inserted > 0;
  }

  /** Ascending seq, from the first seq after `afterSeq`. */
  listInSession(tenantId: string, sessionId: string, page: { afterSeq: number; take: number }): Promise<ChatMessageEntity[]> {
    return this.dataSource.manager
      .createQueryBuilder(ChatMessageEntity, 'm')
      .where('m.tenant_id = :tenantId AND m.session_id = :sessionId AND m.seq > :afterSeq', { tenantId, sessionId, afterSeq: page.afterSeq })
      .orderBy('m.seq', 'ASC')
      .limit(page.take)
      .getMany();
  }

  private async insert(tx: EntityManager, message: ChatMessageEntity, keys: MessageKeys, onConflict: string): Promise<number> {
    const runKeys = 'runId' in keys ? keys : { runId: null, runMessageKey: null };
    const rows = await tx.query<{ id: string }[]>(
      `INSERT INTO chat_messages (id, session_id, tenant_id, seq, role, content, input_items, metadata, author_id, created_at,
                                  idempotency_key, run_id, run_message_key)
       VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb, $9, $10, $11, $12, $13)
       ${onConflict} RETURNING id`,
      [
        message.id,
        message.sessionId,
        message.tenantId,
        message.seq,
        message.role,
        message.content,
        JSON.stringify(message.inputItems),
        JSON.stringify(message.metadata),
        message.authorId,
        message.createdAt,
        'idempotencyKey' in keys ? keys.idempotencyKey : null,
        runKeys.runId,
        runKeys.runMessageKey,
      ],
    );
    return rows.length;
  }
}
