import { defineEvent } from '../common/define.js';
import { ChatMessageView } from './chat-message.dto.js';
import { SessionView } from './session.dto.js';

// Wire names: renaming a subject is a migration (see common/define.ts).
export const SessionCreated = defineEvent('sessions.evt.session.created.v1', SessionView);
export const SessionUpdated = defineEvent('sessions.evt.session.updated.v1', SessionView);
export const SessionArchived = defineEvent('sessions.evt.session.archived.v1', SessionView);
export const MessageAppended = defineEvent('sessions.evt.message.appended.v1', ChatMessageView);
