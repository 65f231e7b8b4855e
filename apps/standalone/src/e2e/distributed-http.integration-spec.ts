import { uniqueName } from '@runyard/testing';
import { bootDistributedOnTestServers } from './boot-distributed.js';
import { describeHttpApi, SUITE_BODY_LIMIT_BYTES, SUITE_RATE_LIMIT } from './http-api.contract.js';

// The same HTTP suite as standalone mode, on real PostgreSQL, NATS and Redis with two replicas each of sessions and runs.
describeHttpApi('distributed', () =>
  bootDistributedOnTestServers({
    namespace: uniqueName('http'),
    sessionsReplicas: 2,
    gateway: { ...SUITE_RATE_LIMIT, bodyLimitBytes: SUITE_BODY_LIMIT_BYTES },
  }),
);
