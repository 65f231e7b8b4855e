import type { ChatMessageView } from '@runyard/contracts';
import type { ChatMessageEntity } from './chat-message.entity.js';

/** Entity → wire view: snake_case, RFC 3339 UTC timestamps. */
export function toChatMessageView(message: ChatMessageEntity): ChatMessageView {
  const view: ChatMessageView = {
    id: message.id,
    session_id: message.sessionId,
    seq: message.seq,
    role: message.role,
    content: message.content,
    input_items: message.inputItems,
    metadata: message.metadata,
    author_id: message.authorId,
    created_at: message.createdAt.toISOString(),
  };
  // Only messages a run posted carry it.
  if (message.runId != null) view.run_id = message.runId;
  return view;
}
