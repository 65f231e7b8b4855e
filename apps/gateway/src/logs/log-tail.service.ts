import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { DomainError, ErrorCode, GetLogState, GetRun, ListLogLines, type CallerScope } from '@runyard/contracts';
import { BUS, type Bus } from '@runyard/messaging';
import type { FastifyReply } from 'fastify';
import { DEFAULT_STREAM_HEARTBEAT_MS, DEFAULT_STREAM_MAX_LIFETIME_MS, DEFAULT_STREAM_RETRY_MS, type GatewaySettings } from '../config.js';
import { ServiceClient } from '../edge/service-client.js';
import { GATEWAY_SETTINGS } from '../edge/tokens.js';
import { StreamSlots } from '../streams/stream-slots.js';
import { LogTail } from './log-tail.js';

const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
  'x-accel-buffering': 'no',
};
const SEQ_CURSOR = /^(0|[1-9][0-9]{0,15})$/;

export interface LogTailRequest {
  scope: CallerScope;
  /** The seq of the last line the client has (`Last-Event-ID`), or null. */
  lastEventId: string | null;
  requestId: string;
  reply: FastifyReply;
}

/**
 * Live tails of run logs (SSE): checks the run is the caller's (404) and the cursor (400
 * invalid_cursor) before anything is sent, answers 204 when the client already has every line of a
 * closed log (an EventSource stops), and otherwise hands the response to a LogTail. Counts open tails
 * per principal (429 past the stream limit) and ends them all on shutdown.
 */
@Injectable()
export class LogTailService implements OnModuleDestroy {
  private readonly tails = new Set<LogTail>();
  private closing = false;

  constructor(
    @Inject(BUS) private readonly bus: Bus,
    private readonly services: ServiceClient,
    @Inject(GATEWAY_SETTINGS) private readonly settings: GatewaySettings,
    private readonly slots: StreamSlots,
  ) {}

  async stream(request: LogTailRequest, runId: string): Promise<void> {
    const { scope, requestId, reply } = request;
    const afterSeq = parseSeqCursor(request.lastEventId);
    await this.services.request(GetRun, { scope, run_id: runId }, requestId);
    if (this.closing) throw new DomainError(ErrorCode.SERVICE_UNAVAILABLE, 'The gateway is shutting down; reconnect');
    const release = this.slots.take(scope);
    const tail = new LogTail({
      bus: this.bus,
      scope,
      runId,
      afterSeq,
      heartbeatMs: this.settings.streamHeartbeatMs ?? DEFAULT_STREAM_HEARTBEAT_MS,
      retryMs: this.settings.streamRetryMs ?? DEFAULT_STREAM_RETRY_MS,
      maxLifetimeMs: this.settings.streamMaxLifetimeMs ?? DEFAULT_STREAM_MAX_LIFETIME_MS,
      listLines: async (after, limit) => (await this.services.request(ListLogLines, { scope, run_id: runId, query: { after_seq: after, limit } }, requestId)).data,
      readState: () => this.services.request(GetLogState, { scope, run_id: runId }, requestId),
      onError: (error) => reply.log.warn({ err: { message: error instanceof Error ? error.message : String(error) } }, 'log tail failed'),
    });
    let opened: 'streaming' | 'ended';
    try {
      opened = await tail.open();
    } catch (error) {
      release();
      throw error;
    }
    if (opened === 'ended') {
      release();
      void reply.code(204).send();
      return;
    }
    this.tails.add(tail);
    void tail.done.then(() => {
      this.tails.delete(tail);
      release();
    });
    void reply.code(200).headers(SSE_HEADERS).send(tail.body);
  }

  async onModuleDestroy(): Promise<void> {
    this.closing = true;
    await Promise.all([...this.tails].map((tail) => tail.close()));
  }

}

/** A log tail's cursor is the seq of the last line received. */
function parseSeqCursor(raw: string | null): number {
  if (raw === null) return 0;
  if (!SEQ_CURSOR.test(raw)) throw new DomainError(ErrorCode.INVALID_CURSOR, 'Last-Event-ID is not a seq of this log; reconnect without it');
  return Number(raw);
}
