import { uniqueName } from '@runyard/testing';
import { bootDistributedOnTestServers } from './boot-distributed.js';
import { describeLogsApi, LOG_SUITE_GATEWAY, LOG_SUITE_SETTINGS } from './logs.contract.js';

// The same logs suite on PostgreSQL, NATS JetStream and Redis, with two transcripts replicas.
describeLogsApi('distributed', () =>
  bootDistributedOnTestServers({
    namespace: uniqueName('logs'),
    transcriptsReplicas: 2,
    logs: LOG_SUITE_SETTINGS,
    gateway: LOG_SUITE_GATEWAY,
  }),
);
