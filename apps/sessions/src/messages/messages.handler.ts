import { Injectable } from '@nestjs/common';
import { AppendMessage, ListMessages, type ChatMessageView, type Page, type PayloadOf } from '@runyard/contracts';
import { CommandHandler } from '@runyard/messaging';
import { MessagesService } from './messages.service.js';

/** Bus entry points for chat messages: each maps a validated payload to one service call. */
@Injectable()
export class MessagesHandler {
  constructor(private readonly messages: MessagesService) {}

  @CommandHandler(AppendMessage)
  append(payload: PayloadOf<typeof AppendMessage>): Promise<ChatMessageView> {
    return this.messages.append(payload.scope, payload.session_id, payload.body);
  }

  @CommandHandler(ListMessages)
  list(payload: PayloadOf<typeof ListMessages>): Promise<Page<ChatMessageView>> {
    return this.messages.list(payload.scope, payload.session_id, payload.query);
  }
}
