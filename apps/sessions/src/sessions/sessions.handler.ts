import { Injectable } from '@nestjs/common';
import {
  ArchiveSession,
  CreateSession,
  GetSession,
  ListSessions,
  UpdateSession,
  type Page,
  type PayloadOf,
  type SessionView,
} from '@runyard/contracts';
import { CommandHandler } from '@runyard/messaging';
import { SessionsService } from './sessions.service.js';

/** Bus entry points for sessions: each maps a validated payload to one service call. */
@Injectable()
export class SessionsHandler {
  constructor(private readonly sessions: SessionsService) {}

  @CommandHandler(CreateSession)
  create(payload: PayloadOf<typeof CreateSession>): Promise<SessionView> {
    return this.sessions.create(payload.scope, payload.body);
  }

  @CommandHandler(GetSession)
  get(payload: PayloadOf<typeof GetSession>): Promise<SessionView> {
    return this.sessions.get(payload.scope, payload.session_id);
  }

  @CommandHandler(ListSessions)
  list(payload: PayloadOf<typeof ListSessions>): Promise<Page<SessionView>> {
    return this.sessions.list(payload.scope, payload.query);
  }

  @CommandHandler(UpdateSession)
  update(payload: PayloadOf<typeof UpdateSession>): Promise<SessionView> {
    return this.sessions.update(payload.scope, payload.session_id, payload.body);
  }

  @CommandHandler(ArchiveSession)
  archive(payload: PayloadOf<typeof ArchiveSession>): Promise<SessionView> {
    return this.sessions.archive(payload.scope, payload.session_id);
  }
}
