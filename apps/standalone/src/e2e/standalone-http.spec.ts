import { startStandalone } from '../standalone.js';
import { describeHttpApi, SUITE_BODY_LIMIT_BYTES, SUITE_RATE_LIMIT } from './http-api.contract.js';

// Standalone mode needs nothing but Node: embedded Postgres in memory, the in-process bus.
describeHttpApi('standalone', async () => {
  const runyard = await startStandalone({
    port: 0,
    host: '127.0.0.1',
    logLevel: 'silent',
    gateway: { ...SUITE_RATE_LIMIT, bodyLimitBytes: SUITE_BODY_LIMIT_BYTES },
  });
  if (!runyard.generatedSystemKey) throw new Error('a fresh standalone instance must generate a system key');
  return { url: runyard.url, systemKey: runyard.generatedSystemKey, close: runyard.close };
});
