import { ApiProperty } from '@nestjs/swagger';
import { ChatMessageView, SessionView, type Page } from '@runyard/contracts';

// OpenAPI shapes of the list responses (generic Page<T> has no runtime class to describe).

export class SessionPageView implements Page<SessionView> {
  @ApiProperty({ type: () => [SessionView] }) data!: SessionView[];
  @ApiProperty({ nullable: true, type: String, description: 'Pass as `cursor` for the next page; null on the last.' }) next_cursor!: string | null;
}

export class ChatMessagePageView implements Page<ChatMessageView> {
  @ApiProperty({ type: () => [ChatMessageView] }) data!: ChatMessageView[];
  @ApiProperty({ nullable: true, type: String, description: 'Pass as `cursor` for the next page; null on the last.' }) next_cursor!: string | null;
}
