import { startStandalone } from '../standalone.js';
import { describeTranscriptSegmentsApi } from './transcript-segments.contract.js';

// Standalone mode: the transcripts service on embedded Postgres and the in-process bus, with the
// embedded worker that executes echo runs.
describeTranscriptSegmentsApi('standalone', async () => {
  const runyard = await startStandalone({ port: 0, host: '127.0.0.1', logLevel: 'silent', worker: { concurrency: 1 } });
  if (!runyard.generatedSystemKey) throw new Error('a fresh standalone instance must generate a system key');
  return { url: runyard.url, systemKey: runyard.generatedSystemKey, close: runyard.close };
});
