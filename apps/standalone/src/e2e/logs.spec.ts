import { startStandalone } from '../standalone.js';
import { describeLogsApi, LOG_SUITE_GATEWAY, LOG_SUITE_SETTINGS } from './logs.contract.js';

// Standalone mode: the transcripts service on embedded Postgres and the in-process bus.
describeLogsApi('standalone', async () => {
  const runyard = await startStandalone({ port: 0, host: '127.0.0.1', logLevel: 'silent', gateway: LOG_SUITE_GATEWAY, logs: LOG_SUITE_SETTINGS });
  if (!runyard.generatedSystemKey) throw new Error('a fresh standalone instance must generate a system key');
  return { url: runyard.url, systemKey: runyard.generatedSystemKey, close: runyard.close };
});
