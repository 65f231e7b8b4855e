import { startStandalone } from '../standalone.js';
import { describeTracing } from './tracing.contract.js';

// Standalone: one process, the in-process bus, and the embedded worker that executes the traced run.
describeTracing('standalone', async () => {
  const runyard = await startStandalone({ port: 0, host: '127.0.0.1', logLevel: 'silent', worker: { concurrency: 1 } });
  if (!runyard.generatedSystemKey) throw new Error('a fresh standalone instance must generate a system key');
  return { url: runyard.url, systemKey: runyard.generatedSystemKey, close: runyard.close };
});
