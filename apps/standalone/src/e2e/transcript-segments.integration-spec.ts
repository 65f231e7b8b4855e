import { uniqueName } from '@runyard/testing';
import { bootDistributedOnTestServers } from './boot-distributed.js';
import { describeTranscriptSegmentsApi } from './transcript-segments.contract.js';

// The same transcript segments suite on PostgreSQL, NATS JetStream and Redis, with two transcripts
// replicas and a worker on a connection of its own (its summary crosses NATS twice: the lease check
// to the runs service, the write to the transcripts service).
describeTranscriptSegmentsApi('distributed', () =>
  bootDistributedOnTestServers({
    namespace: uniqueName('segments'),
    transcriptsReplicas: 2,
    worker: {},
  }),
);
