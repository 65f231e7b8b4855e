import type { ChatRole, InputItem } from '@runyard/contracts';
import { Column, Entity, PrimaryColumn, Unique } from 'typeorm';

/** An input item as stored: plain JSON, exactly what the caller gave. */
export type StoredInputItem = Pick<InputItem, 'type' | 'text' | 'file_id' | 'url' | 'name' | 'mime_type'>;

/** One raw chat message; `seq` numbers a session's messages from 1 without gaps. */
@Entity({ name: 'chat_messages' })
@Unique('chat_messages_session_seq_key', ['sessionId', 'seq'])
export class ChatMessageEntity {
  @PrimaryColumn('uuid')
  id!: string;

  @Column('uuid', { name: 'session_id' })
  sessionId!: string;

  @Column('uuid', { name: 'tenant_id' })
  tenantId!: string;

  @Column('integer')
  seq!: number;

  @Column('text')
  role!: ChatRole;

  @Column('text', { nullable: true })
  content!: string | null;

  @Column('jsonb', { name: 'input_items' })
  inputItems!: StoredInputItem[];

  @Column('jsonb')
  metadata!: Record<string, unknown>;

  @Column('uuid', { name: 'author_id' })
  authorId!: string;

  /** The run that posted it (assistant messages from runs; migration 1763800000003). */
  @Column('uuid', { name: 'run_id', nullable: true })
  runId?: string | null;

  @Column('timestamptz', { name: 'created_at' })
  createdAt!: Date;
}
