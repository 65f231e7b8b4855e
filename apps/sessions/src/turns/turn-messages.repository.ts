import { Injectable } from '@nestjs/common';
import { DataSource, QueryFailedError, type EntityManager } from 'typeorm';
import { ChatMessageEntity } from '../messages/chat-message.entity.js';
import { SessionEntity } from '../sessions/session.entity.js';

/** The unique index on (tenant_id, session_id, author_id, idempotency_key) (migration 1763800000003). */
const IDEMPOTENCY_KEY_INDEX = 'chat_messages_idempotency_key_idx';

/** A message with the same author and idempotency key committed first in this session; read it instead. */
export class TurnKeyTaken extends Error {
  constructor() {
    super('idempotency key already used in this session');
    this.name = 'TurnKeyTaken';
  }
}

/** What a stored message is keyed by, besides its id: at most one of the two. */
type MessageKeys = { idempotencyKey: string | null } | { runId: string; runMessageKey: string };

/**
 * The chat messages of turns: the user's, deduplicated by the caller's idempotency key, and the
 * assistant's that runs post, once per (run, key). The keys are not entity columns (nothing reads
 * them back), so these inserts are SQL; every query names the tenant.
 */
@Injectable()
export class TurnMessagesRepository {
  constructor(private readonly dataSource: DataSource) {}

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

  /** Throws TurnKeyTaken when a concurrent append with the same key committed first (the transaction is then aborted). */
  async insertUserMessage(tx: EntityManager, message: ChatMessageEntity, idempotencyKey: string | null): Promise<void> {
    try {
      await this.insert(tx, message, { idempotencyKey }, '');
    } catch (error) {
      if (idempotencyKey !== null && isUniqueViolationOf(error, IDEMPOTENCY_KEY_INDEX)) throw new TurnKeyTaken();
      throw error;
    }
  }

  /**
   * Holds the session row (whatever its status) until the transaction ends, so that recordings of
   * one session's run messages take turns with each other and with appends. Null when the tenant has
   * no such session.
   */
  async lockSession(tx: EntityManager, tenantId: string, sessionId: string): Promise<{ ownerId: string } | null> {
    const rows = await tx.query<{ owner_id: string }[]>(`SELECT owner_id FROM sessions WHERE tenant_id = $1 AND id = $2 FOR UPDATE`, [tenantId, sessionId]);
    const row = rows[0];
    return row === undefined ? null : { ownerId: row.owner_id };
  }

  async hasRunMessage(tx: EntityManager, tenantId: string, runId: string, runMessageKey: string): Promise<boolean> {
    const rows = await tx.query<unknown[]>(`SELECT 1 FROM chat_messages WHERE tenant_id = $1 AND run_id = $2 AND run_message_key = $3`, [
      tenantId,
      runId,
      runMessageKey,
    ]);
    return rows.length > 0;
  }

  /** The next seq of a session in any status (a run's message is recorded in an archived session too). Call with the session locked. */
  async allocateSeq(tx: EntityManager, tenantId: string, sessionId: string): Promise<number> {
    const result = await tx
      .createQueryBuilder()
      .update(SessionEntity)
      .set({ lastMessageSeq: () => 'last_message_seq + 1' })
      .where('tenant_id = :tenantId AND id = :sessionId', { tenantId, sessionId })
      .returning(['lastMessageSeq'])
      .execute();
    const row = (result.raw as { last_message_seq: number }[])[0];
    if (row === undefined) throw new Error(`session ${sessionId} vanished while locked`);
    return Number(row.last_message_seq);
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

/** A unique violation (23505) of `index`; drivers that do not name the constraint count as that index. */
function isUniqueViolationOf(error: unknown, index: string): boolean {
  if (!(error instanceof QueryFailedError)) return false;
  const driverError = error.driverError as { code?: unknown; constraint?: unknown } | undefined;
  return driverError?.code === '23505' && (driverError.constraint === undefined || driverError.constraint === index);
}
