import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { ChatMessageEntity } from './chat-message.entity.js';
import { withJsonbColumns } from '@runyard/persistence';

@Injectable()
export class MessagesRepository {
  constructor(private readonly dataSource: DataSource) {}

  async insertMessage(tx: EntityManager, message: ChatMessageEntity): Promise<void> {
    await tx.insert(ChatMessageEntity, withJsonbColumns(message));
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
}
