import { ApiProperty } from '@nestjs/swagger';
import { ChatMessageView, DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT, SessionView, type Page } from '@runyard/contracts';

// OpenAPI shapes of the list responses (generic Page<T> has no runtime class to describe).

export class SessionPageView implements Page<SessionView> {
  @ApiProperty({ type: () => [SessionView] }) data!: SessionView[];
  @ApiProperty({ nullable: true, type: String, description: 'Pass as `cursor` for the next page; null on the last.' }) next_cursor!: string | null;
}

export class ChatMessagePageView implements Page<ChatMessageView> {
  @ApiProperty({ type: () => [ChatMessageView] }) data!: ChatMessageView[];
  @ApiProperty({ nullable: true, type: String, description: 'Pass as `cursor` for the next page; null on the last.' }) next_cursor!: string | null;
}

// The contracts' PageQuery carries no OpenAPI metadata, so the list routes describe its fields here.
export const PAGE_LIMIT = {
  name: 'limit',
  required: false,
  schema: { type: 'integer', minimum: 1, maximum: MAX_PAGE_LIMIT, default: DEFAULT_PAGE_LIMIT },
  description: 'Page size.',
} as const;
export const PAGE_CURSOR = {
  name: 'cursor',
  required: false,
  schema: { type: 'string', maxLength: 512 },
  description: 'The `next_cursor` of the previous page.',
} as const;
