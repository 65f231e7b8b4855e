// Decorator metadata must exist before any decorated class (contracts, entities) is evaluated.
import 'reflect-metadata';
import { runMigrations } from '@runyard/persistence';
import { createLogger } from '@runyard/runtime';
import { loadConfigOrExit } from '@runyard/config';
import { TranscriptsDatabaseEnv } from './config.js';
import { createTranscriptsDataSource } from './transcripts.app.js';

// Applies the transcripts schema's pending migrations to DATABASE_URL and exits: run it before rolling
// out replicas (e.g. as a Kubernetes Job). Exit code 0 when the schema is up to date.
const config = loadConfigOrExit(TranscriptsDatabaseEnv);
const logger = createLogger('transcripts-migrate', config.LOG_LEVEL);

async function migrate(): Promise<void> {
  const dataSource = createTranscriptsDataSource({ kind: 'postgres', url: config.DATABASE_URL });
  await dataSource.initialize();
  try {
    const applied = await runMigrations(dataSource);
    logger.info({ applied }, 'transcripts migrations applied');
  } finally {
    await dataSource.destroy();
  }
}

migrate().then(
  () => process.exit(0),
  (error: unknown) => {
    logger.fatal({ err: error }, 'transcripts migrations failed');
    process.exit(1);
  },
);
