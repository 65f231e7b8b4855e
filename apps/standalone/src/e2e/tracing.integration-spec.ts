import { uniqueName } from '@runyard/testing';
import { bootDistributedOnTestServers } from './boot-distributed.js';
import { describeTracing } from './tracing.contract.js';

// Distributed: the trace crosses real NATS (request headers and JetStream message headers) between
// the gateway, two replicas each of sessions and runs, and a worker on a connection of its own.
describeTracing('distributed', () =>
  bootDistributedOnTestServers({
    namespace: uniqueName('tracing'),
    worker: {},
  }),
);
