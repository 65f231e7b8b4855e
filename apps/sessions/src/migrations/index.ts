import { CreateOutboxEvents1763600000000 } from '@runyard/messaging';
import type { MigrationInterface } from 'typeorm';
import { CreateSessions1763600000001 } from './1763600000001-CreateSessions.js';
import { ChatMessageTurnAndRunKeys1763800000003 } from './1763800000003-ChatMessageTurnAndRunKeys.js';

/** Every migration of the `sessions` schema, in order (the outbox table first). */
export const sessionsMigrations: (new () => MigrationInterface)[] = [CreateOutboxEvents1763600000000, CreateSessions1763600000001, ChatMessageTurnAndRunKeys1763800000003];
