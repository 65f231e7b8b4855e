import { type GatewaySettings } from '@runyard/gateway';
import { type LogsSettings } from '@runyard/transcripts';
export interface DistributedOptions {
    databaseUrl: string;
    natsUrl: string;
    redisUrl: string;
    /** NATS subject namespace isolating this deployment from others on the same server. */
    namespace: string;
    sessionsReplicas?: number;
    runsReplicas?: number;
    transcriptsReplicas?: number;
    /** Run log settings of every transcripts replica. */
    logs?: Partial<LogsSettings>;
    gateway?: Partial<GatewaySettings>;
    /** Also a worker with the built-in executors (echo, script) on a NATS connection of its own. */
    worker?: {
        concurrency?: number;
    };
}
export interface BootedDistributed {
    url: string;
    systemKey: string;
    close(): Promise<void>;
}
/**
 * Distributed mode inside one test process: the gateway, N sessions and M runs replicas, each with its own
 * NATS connection and database pool, exactly as separate processes would have (the processes
 * themselves are exercised by the benchmark and docker-compose).
 */
export declare function bootDistributed(options: DistributedOptions): Promise<BootedDistributed>;
//# sourceMappingURL=boot-distributed.d.ts.map