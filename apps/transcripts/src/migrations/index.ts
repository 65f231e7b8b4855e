import { CreateOutboxEvents1763600000000 } from '@runyard/messaging';
import type { MigrationInterface } from 'typeorm';
import { CreateLogs1764000000001 } from './1764000000001-CreateLogs.js';

/** Every migration of the `transcripts` schema, in order (the outbox table first). */
export const transcriptsMigrations: (new () => MigrationInterface)[] = [CreateOutboxEvents1763600000000, CreateLogs1764000000001];
