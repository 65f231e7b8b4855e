import { DomainError, ErrorCode, type AppendMessageBody, type InputItem } from '@runyard/contracts';
import type { StoredInputItem } from './chat-message.entity.js';

export interface MessageContent {
  content: string | null;
  inputItems: StoredInputItem[];
}

/** Separates the text parts of a message in its `content`. */
export const TEXT_PART_SEPARATOR = '\n\n';

/**
 * Stores both shapes of a message so readers never convert: plain `content` becomes one text item,
 * and `input_items` give `content` as their text parts joined by a blank line (null when there are
 * none, e.g. files only).
 */
export function normaliseMessageContent(body: Pick<AppendMessageBody, 'content' | 'input_items'>): MessageContent {
  if (body.content !== undefined && body.input_items !== undefined) {
    // The payload validators skip `content` once `input_items` is present, so refuse both here.
    throw new DomainError(ErrorCode.VALIDATION_FAILED, 'give either content or input_items, not both', {
      errors: [{ field: 'body.content', message: 'content must be absent when input_items is given' }],
    });
  }
  if (body.input_items !== undefined) {
    const inputItems = body.input_items.map(toStoredInputItem);
    const texts = inputItems.flatMap((item) => (item.type === 'text' && item.text !== undefined ? [item.text] : []));
    return { content: texts.length > 0 ? texts.join(TEXT_PART_SEPARATOR) : null, inputItems };
  }
  if (body.content !== undefined) {
    return { content: body.content, inputItems: [{ type: 'text', text: body.content }] };
  }
  throw new DomainError(ErrorCode.VALIDATION_FAILED, 'give either content or input_items', {
    errors: [{ field: 'body.content', message: 'content or input_items is required' }],
  });
}

/** Keeps only the fields an item of its type carries, as plain JSON. */
function toStoredInputItem(item: InputItem): StoredInputItem {
  if (item.type === 'text') return { type: 'text', text: item.text };
  const stored: StoredInputItem = { type: 'file' };
  if (item.file_id !== undefined) stored.file_id = item.file_id;
  if (item.url !== undefined) stored.url = item.url;
  if (item.name !== undefined) stored.name = item.name;
  if (item.mime_type !== undefined) stored.mime_type = item.mime_type;
  return stored;
}
