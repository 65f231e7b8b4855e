import { CreateOutboxEvents1763600000000 } from '@runyard/messaging';
import type { MigrationInterface } from 'typeorm';
import { CreateRuns1763700000001 } from './1763700000001-CreateRuns.js';
import { StepsWaitsAndEventHistory1763800000001 } from './1763800000001-StepsWaitsAndEventHistory.js';
import { RunIdempotencyKey1763800000002 } from './1763800000002-RunIdempotencyKey.js';
import { RunTraceId1763800000004 } from './1763800000004-RunTraceId.js';

/** Every migration of the `runs` schema, in order (the outbox table first). */
export const runsMigrations: (new () => MigrationInterface)[] = [CreateOutboxEvents1763600000000, CreateRuns1763700000001, StepsWaitsAndEventHistory1763800000001, RunIdempotencyKey1763800000002, RunTraceId1763800000004];
