export { TranscriptsDatabaseEnv, TranscriptsEnv } from './config.js';
export { transcriptsMigrations } from './migrations/index.js';
export {
  createTranscriptsApp,
  createTranscriptsDataSource,
  TRANSCRIPTS_SCHEMA,
  transcriptsEntities,
  transcriptsReadinessChecks,
  type TranscriptsAppDeps,
  type TranscriptsAppOptions,
} from './transcripts.app.js';
export { TRANSCRIPTS_QUEUE_GROUP } from './transcripts.module.js';
export { DEFAULT_LOGS_SETTINGS, type LogsSettings } from './logs/logs-settings.js';
export { DEFAULT_SEGMENTS_SETTINGS, type SegmentsSettings } from './segments/segments-settings.js';
