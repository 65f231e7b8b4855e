import 'reflect-metadata';
import { loadConfigOrExit } from '@runyard/config';
import { createLogger } from '@runyard/runtime';
import { StandaloneEnv } from './config.js';
import { startStandalone } from './standalone.js';

async function main(): Promise<void> {
  const env = loadConfigOrExit(StandaloneEnv);
  const logger = createLogger('runyard', env.LOG_LEVEL);
  const started = Date.now();
  const runyard = await startStandalone({
    port: env.PORT,
    host: env.HOST,
    dataDir: env.RUNYARD_DATA_DIR,
    bootstrapApiKey: env.RUNYARD_BOOTSTRAP_API_KEY,
    logLevel: env.LOG_LEVEL,
    // The embedded worker runs the built-in executors, so a turn completes with nothing else running.
    worker: env.RUNYARD_WORKER ? { concurrency: env.RUNYARD_WORKER_CONCURRENCY } : undefined,
    segments: { retentionDays: { transcripts: env.TRANSCRIPT_RETENTION_DAYS === 0 ? null : env.TRANSCRIPT_RETENTION_DAYS } },
  });

  // Printed to the terminal, not the structured log: log lines may be shipped to storage, and the
  // system key must never be kept there.
  const lines = [`Runyard is running at ${runyard.url} (standalone mode, started in ${Date.now() - started} ms)`];
  lines.push(`  API reference: ${runyard.url}/docs`);
  lines.push(env.RUNYARD_WORKER ? `  Embedded worker: executors echo and script, ${env.RUNYARD_WORKER_CONCURRENCY} at a time` : '  Embedded worker: off (RUNYARD_WORKER=false)');
  if (runyard.generatedSystemKey) {
    lines.push('', '  System admin API key (shown once; keep it somewhere safe):', `    ${runyard.generatedSystemKey}`);
  } else if (!env.RUNYARD_BOOTSTRAP_API_KEY) {
    lines.push('  System admin key: the one printed on first start (or set RUNYARD_BOOTSTRAP_API_KEY).');
  }
  process.stdout.write(`\n${lines.join('\n')}\n\nPress Ctrl-C to stop.\n`);

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    runyard.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}

main().catch((error: unknown) => {
  console.error('runyard: failed to start:', error);
  process.exit(1);
});
