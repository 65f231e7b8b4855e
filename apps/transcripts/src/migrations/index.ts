import { CreateOutboxEvents1763600000000 } from '@runyard/messaging';
import type { MigrationInterface } from 'typeorm';
import { CreateLogs1764000000001 } from './1764000000001-CreateLogs.js';
import { CreateTranscriptSegments1764000000003 } from './1764000000003-CreateTranscriptSegments.js';
import { CreateTraceSpans1764000000004 } from './1764000000004-CreateTraceSpans.js';
import { RunTraceOwner1764000000005 } from './1764000000005-RunTraceOwner.js';

/** Every migration of the `transcripts` schema, in order (the outbox table first). */
export const transcriptsMigrations: (new () => MigrationInterface)[] = [CreateOutboxEvents1763600000000, CreateLogs1764000000001, CreateTranscriptSegments1764000000003, CreateTraceSpans1764000000004, RunTraceOwner1764000000005];
