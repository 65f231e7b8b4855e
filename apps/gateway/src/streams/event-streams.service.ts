import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { DomainError, ErrorCode, GetRun, GetSession, RunStatusChanged, TERMINAL_RUN_STATUSES, type CallerScope, type RunView } from '@runyard/contracts';
import { BUS, type Bus, type TailStart } from '@runyard/messaging';
import type { FastifyReply } from 'fastify';
import { DEFAULT_STREAM_HEARTBEAT_MS, DEFAULT_STREAM_RETRY_MS, type GatewaySettings } from '../config.js';
import { ServiceClient } from '../edge/service-client.js';
import { GATEWAY_SETTINGS } from '../edge/tokens.js';
import { epochTag, parseCursor, planResume, type EventCursor, type ResumePlan } from './event-cursor.js';
import { isSelected, type EventSelection } from './event-visibility.js';
import { LiveStream, type GapNotice } from './live-stream.js';
import { endsRun } from './run-events.js';

/** A run stream without a cursor reads the log from this long before the run's creation (clock skew between hosts). */
export const RUN_START_SKEW_MS = 10_000;

const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  // Proxies must neither cache, transform (compress and hold back) nor buffer a live stream.
  'cache-control': 'no-cache, no-transform',
  'x-accel-buffering': 'no',
};

/** What one stream request asks for, as the controller read it. */
export interface StreamRequest {
  scope: CallerScope;
  /** `Last-Event-ID` header, else the `last_event_id` query parameter; null without either. */
  lastEventId: string | null;
  requestId: string;
  reply: FastifyReply;
}

interface StreamPlan {
  start: TailStart;
  gap?: GapNotice;
  epochTag: string;
  selection: EventSelection;
  /** Run streams only: the run whose terminal status change ends the stream. */
  endsWithRun?: string;
}

/** The header wins over the query parameter: an EventSource reconnects to the same URL with a newer header. */
export function chooseLastEventId(header: string | undefined, query: string | undefined): string | null {
  if (header !== undefined && header !== '') return header;
  if (query !== undefined && query !== '') return query;
  return null;
}

function gapNotice(plan: ResumePlan, lastEventId: string | null): GapNotice | undefined {
  return plan.kind === 'gap' ? { reason: plan.reason, resumed_from: lastEventId } : undefined;
}

/**
 * The live event streams (SSE): checks what the caller asks for before anything is sent (so those
 * errors are problem+json), works out where the log read starts from the client's cursor, then hands
 * the response to a LiveStream. Keeps every open stream so a shutdown can end them (an open stream
 * would otherwise keep the HTTP server from closing).
 */
@Injectable()
export class EventStreamsService implements OnModuleDestroy {
  private readonly streams = new Set<LiveStream>();
  private closing = false;

  constructor(
    @Inject(BUS) private readonly bus: Bus,
    private readonly services: ServiceClient,
    @Inject(GATEWAY_SETTINGS) private readonly settings: GatewaySettings,
  ) {}

  /** Every event the caller may see, optionally of one session and/or one run; starts with new events. */
  async streamEvents(request: StreamRequest, filters: { sessionId?: string; runId?: string }): Promise<void> {
    const { scope, requestId } = request;
    const cursor = this.cursorOf(request);
    if (filters.sessionId !== undefined) await this.services.request(GetSession, { scope, session_id: filters.sessionId }, requestId);
    if (filters.runId !== undefined) await this.services.request(GetRun, { scope, run_id: filters.runId }, requestId);
    const log = await this.bus.eventLog();
    const plan = planResume(cursor, log);
    const start: TailStart =
      plan.kind === 'fresh' ? { kind: 'new' } : plan.kind === 'resume' ? { kind: 'after', sequence: plan.after } : { kind: 'after', sequence: 0 };
    await this.serve(request, { start, gap: gapNotice(plan, request.lastEventId), epochTag: epochTag(log.epoch), selection: { scope, ...filters } });
  }

  /**
   * One run's events from its creation, ending after its terminal status change. A client that comes
   * back after that (EventSource reconnects by itself) gets 204, which tells it to stop.
   */
  async streamRun(request: StreamRequest, runId: string): Promise<void> {
    const { scope, requestId, reply } = request;
    const cursor = this.cursorOf(request);
    const run = await this.services.request(GetRun, { scope, run_id: runId }, requestId);
    const log = await this.bus.eventLog();
    const plan = planResume(cursor, log);
    let start: TailStart = { kind: 'time', time: new Date(Date.parse(run.created_at) - RUN_START_SKEW_MS) };
    if (plan.kind === 'resume') {
      if (TERMINAL_RUN_STATUSES.has(run.status)) {
        const last = await this.findTerminalEvent(run);
        if (last !== null && plan.after >= last) {
          void reply.code(204).send();
          return;
        }
      }
      start = { kind: 'after', sequence: plan.after };
    }
    await this.serve(request, {
      start,
      gap: gapNotice(plan, request.lastEventId),
      epochTag: epochTag(log.epoch),
      selection: { scope, runId },
      endsWithRun: runId,
    });
  }

  async onModuleDestroy(): Promise<void> {
    this.closing = true;
    await Promise.all([...this.streams].map((stream) => stream.close()));
  }

  private cursorOf(request: StreamRequest): EventCursor | null {
    return request.lastEventId === null ? null : parseCursor(request.lastEventId);
  }

  private refuseWhileClosing(): void {
    if (this.closing) throw new DomainError(ErrorCode.SERVICE_UNAVAILABLE, 'The gateway is shutting down; reconnect');
  }

  private async serve({ reply }: StreamRequest, plan: StreamPlan): Promise<void> {
    this.refuseWhileClosing();
    const { selection, endsWithRun } = plan;
    const stream = await LiveStream.open({
      bus: this.bus,
      start: plan.start,
      epochTag: plan.epochTag,
      gap: plan.gap,
      heartbeatMs: this.settings.streamHeartbeatMs ?? DEFAULT_STREAM_HEARTBEAT_MS,
      retryMs: this.settings.streamRetryMs ?? DEFAULT_STREAM_RETRY_MS,
      selects: (envelope) => isSelected(envelope, selection),
      isLast: endsWithRun === undefined ? undefined : (envelope) => endsRun(envelope, endsWithRun),
      onTailError: (error) => reply.log.warn({ err: { message: error instanceof Error ? error.message : String(error) } }, 'event stream tail failed'),
    });
    if (this.closing) {
      await stream.close();
      this.refuseWhileClosing();
    }
    this.streams.add(stream);
    void stream.done.then(() => this.streams.delete(stream));
    void reply.code(200).headers(SSE_HEADERS).send(stream.body);
  }

  /**
   * The log sequence of a terminal run's last event, read from shortly before it finished. Null when
   * it cannot be found in time (not relayed yet, or no longer retained): the caller then streams, which
   * is never wrong — it only means the client waits for the event instead of being told to stop.
   */
  private async findTerminalEvent(run: RunView): Promise<number | null> {
    const since = Date.parse(run.finished_at ?? run.updated_at) - RUN_START_SKEW_MS;
    let found!: (sequence: number) => void;
    const located = new Promise<number>((resolve) => (found = resolve));
    const tail = await this.bus.tail({
      filterSubject: RunStatusChanged.subject,
      start: { kind: 'time', time: new Date(since) },
      handler: ({ envelope, sequence }) => {
        if (endsRun(envelope, run.id)) found(sequence);
        return Promise.resolve();
      },
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), this.settings.requestTimeoutMs)));
    try {
      return await Promise.race([located, timeout, tail.ended.then(() => null, () => null)]);
    } finally {
      clearTimeout(timer);
      await tail.stop().catch(() => undefined);
    }
  }
}
