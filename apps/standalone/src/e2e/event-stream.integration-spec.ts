import { uniqueName } from '@runyard/testing';
import { bootDistributedOnTestServers } from './boot-distributed.js';
import { describeEventStreams, STREAM_SUITE_SETTINGS } from './event-stream.contract.js';

// The same stream suite on PostgreSQL, NATS JetStream (the event log) and Redis, two replicas each of sessions and runs.
describeEventStreams('distributed', () =>
  bootDistributedOnTestServers({
    namespace: uniqueName('streams'),
    gateway: STREAM_SUITE_SETTINGS,
  }),
);
