import { Type } from 'class-transformer';
import { IsDefined, IsObject, IsUUID, ValidateNested } from 'class-validator';
import { defineCommand } from '../common/define.js';
import type { Page } from '../common/pagination.js';
import { ScopedPayload } from '../common/scope.js';
import { AppendMessageBody, ChatMessageView, ListMessagesQuery } from './chat-message.dto.js';
import { CreateSessionBody, ListSessionsQuery, SessionView, UpdateSessionBody } from './session.dto.js';
import { CreateTurnBody, IsIdempotencyKey, TurnView } from './turn.dto.js';

// Wire names: renaming a subject is a migration (see common/define.ts).

abstract class SessionScoped extends ScopedPayload {
  @IsUUID()
  session_id!: string;
}

export class CreateSessionPayload extends ScopedPayload {
  @IsDefined()
  @IsObject()
  @ValidateNested()
  @Type(() => CreateSessionBody)
  body!: CreateSessionBody;
}
export const CreateSession = defineCommand<SessionView>()('sessions.cmd.session.create.v1', CreateSessionPayload);

export class GetSessionPayload extends SessionScoped {}
export const GetSession = defineCommand<SessionView>()('sessions.cmd.session.get.v1', GetSessionPayload);

export class ListSessionsPayload extends ScopedPayload {
  @IsDefined()
  @IsObject()
  @ValidateNested()
  @Type(() => ListSessionsQuery)
  query!: ListSessionsQuery;
}
export const ListSessions = defineCommand<Page<SessionView>>()('sessions.cmd.session.list.v1', ListSessionsPayload);

export class UpdateSessionPayload extends SessionScoped {
  @IsDefined()
  @IsObject()
  @ValidateNested()
  @Type(() => UpdateSessionBody)
  body!: UpdateSessionBody;
}
export const UpdateSession = defineCommand<SessionView>()('sessions.cmd.session.update.v1', UpdateSessionPayload);

export class ArchiveSessionPayload extends SessionScoped {}
export const ArchiveSession = defineCommand<SessionView>()('sessions.cmd.session.archive.v1', ArchiveSessionPayload);

export class AppendMessagePayload extends SessionScoped {
  @IsDefined()
  @IsObject()
  @ValidateNested()
  @Type(() => AppendMessageBody)
  body!: AppendMessageBody;
}
export const AppendMessage = defineCommand<ChatMessageView>()('sessions.cmd.message.append.v1', AppendMessagePayload);

export class ListMessagesPayload extends SessionScoped {
  @IsDefined()
  @IsObject()
  @ValidateNested()
  @Type(() => ListMessagesQuery)
  query!: ListMessagesQuery;
}
export const ListMessages = defineCommand<Page<ChatMessageView>>()('sessions.cmd.message.list.v1', ListMessagesPayload);

/**
 * Turn intake: appends the caller's chat message (role user) and creates a `chat` run from it. With
 * an idempotency key, a retry by the same principal in the same session finds the message it
 * appended and completes the turn with the same run (no second message, no second run).
 */
export class CreateTurnPayload extends SessionScoped {
  @IsIdempotencyKey()
  idempotency_key?: string;

  @IsDefined()
  @IsObject()
  @ValidateNested()
  @Type(() => CreateTurnBody)
  body!: CreateTurnBody;
}
export const CreateTurn = defineCommand<TurnView>()('sessions.cmd.turn.create.v1', CreateTurnPayload);
