import { startStandalone } from '../standalone.js';
import { describeEventStreams, STREAM_SUITE_SETTINGS } from './event-stream.contract.js';

// Standalone mode: embedded Postgres and the in-process bus's event log.
describeEventStreams('standalone', async () => {
  const runyard = await startStandalone({ port: 0, host: '127.0.0.1', logLevel: 'silent', gateway: STREAM_SUITE_SETTINGS });
  if (!runyard.generatedSystemKey) throw new Error('a fresh standalone instance must generate a system key');
  return { url: runyard.url, systemKey: runyard.generatedSystemKey, close: runyard.close };
});
