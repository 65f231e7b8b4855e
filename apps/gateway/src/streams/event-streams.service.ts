import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { DomainError, ErrorCode, GetRun, GetSession, RunStatusChanged, TERMINAL_RUN_STATUSES, type CallerScope, type RunView } from '@runyard/contracts';
import { BUS, type Bus, type EventLogInfo, type LoggedEvent, type TailStart } from '@runyard/messaging';
import type { FastifyReply } from 'fastify';
import {
  DEFAULT_STREAM_HEARTBEAT_MS,
  DEFAULT_STREAM_MAX_LIFETIME_MS,
  DEFAULT_STREAM_RETRY_MS,
  type GatewaySettings,
} from '../config.js';
import { ServiceClient } from '../edge/service-client.js';
import { GATEWAY_SETTINGS } from '../edge/tokens.js';
import { epochTag, formatCursor, parseCursor, planResume, type EventCursor, type ResumePlan } from './event-cursor.js';
import { isSelected, type EventSelection } from './event-visibility.js';
import { ALL_EVENTS_FILTER, LiveStream, READY_EVENT, type GapNotice } from './live-stream.js';
import { endsRun } from './run-events.js';
import { StreamSlots } from './stream-slots.js';
import { formatEvent, formatRetry } from './sse-writer.js';

/** A run stream without a cursor reads the log from this long before the run's creation (clock skew between hosts). */
export const RUN_START_SKEW_MS = 10_000;
/**
 * `Retry-After` of a request over the per-principal stream limit: a slot frees only when one of the
 * caller's streams ends, so a client gains nothing by retrying at once.
 */

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
  /** Where the tail starts: `after` a sequence wherever one is known, so the client gets it as its first cursor. */
  start: TailStart;
  gap?: GapNotice;
  epochTag: string;
  selection: EventSelection;
  /** Run streams only: the run whose terminal status change ends the stream. */
  endsWithRun?: string;
  /** Gives back the caller's stream slot; called once the stream is over. */
  release: () => void;
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
 * would otherwise keep the HTTP server from closing), and counts them per principal: each holds a
 * tail and a connection, so one key cannot open them without bound.
 */
@Injectable()
export class EventStreamsService implements OnModuleDestroy {
  private readonly streams = new Set<LiveStream>();
  private closing = false;

  constructor(
    @Inject(BUS) private readonly bus: Bus,
    private readonly services: ServiceClient,
    @Inject(GATEWAY_SETTINGS) private readonly settings: GatewaySettings,
    private readonly slots: StreamSlots,
  ) {}

  /** Every event the caller may see, optionally of one session and/or one run; starts with new events. */
  async streamEvents(request: StreamRequest, filters: { sessionId?: string; runId?: string }): Promise<void> {
    const { scope, requestId } = request;
    const cursor = this.cursorOf(request);
    const release = this.slots.take(scope);
    try {
      if (filters.sessionId !== undefined) await this.services.request(GetSession, { scope, session_id: filters.sessionId }, requestId);
      if (filters.runId !== undefined) await this.services.request(GetRun, { scope, run_id: filters.runId }, requestId);
      const log = await this.bus.eventLog();
      const plan = planResume(cursor, log);
      // A fresh stream starts after the log's last event rather than at `new`: the same events (the tail
      // reads from a fixed position, so nothing stored meanwhile is missed), but with a cursor from the start.
      const after = plan.kind === 'fresh' ? log.lastSequence : plan.kind === 'resume' ? plan.after : log.firstSequence - 1;
      await this.serve(request, {
        start: { kind: 'after', sequence: after },
        gap: gapNotice(plan, request.lastEventId),
        epochTag: epochTag(log.epoch),
        selection: { scope, ...filters },
        release,
      });
    } catch (error) {
      release();
      throw error;
    }
  }

  /**
   * One run's events from its creation, ending after its terminal status change. A client that comes
   * back after that (EventSource reconnects by itself) gets 204, which tells it to stop. When the run
   * has ended and the log no longer holds its terminal event, waiting for it would never end: the
   * client gets a `gap` and the end of the stream instead.
   */
  async streamRun(request: StreamRequest, runId: string): Promise<void> {
    const { scope, requestId, reply } = request;
    const cursor = this.cursorOf(request);
    const release = this.slots.take(scope);
    try {
      const run = await this.services.request(GetRun, { scope, run_id: runId }, requestId);
      const log = await this.bus.eventLog();
      const plan = planResume(cursor, log);
      if (TERMINAL_RUN_STATUSES.has(run.status)) {
        const last = await this.findTerminalEvent(run);
        const ended = last !== null ? plan.kind === 'resume' && plan.after >= last : await this.isTerminalEventGone(run, log);
        if (ended) {
          release();
          // A gone terminal event and a current cursor: the client passed it, or an earlier request sent it the gap.
          if (plan.kind === 'resume') void reply.code(204).send();
          else this.sendGone(request, plan, log);
          return;
        }
      }
      await this.serve(request, {
        start: plan.kind === 'resume' ? { kind: 'after', sequence: plan.after } : { kind: 'time', time: new Date(Date.parse(run.created_at) - RUN_START_SKEW_MS) },
        gap: gapNotice(plan, request.lastEventId),
        epochTag: epochTag(log.epoch),
        selection: { scope, runId },
        endsWithRun: runId,
        release,
      });
    } catch (error) {
      release();
      throw error;
    }
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

  /** Counts a stream against the caller's limit (429 past it); the returned function gives the slot back, once. */

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
      maxLifetimeMs: this.settings.streamMaxLifetimeMs ?? DEFAULT_STREAM_MAX_LIFETIME_MS,
      selects: (envelope) => isSelected(envelope, selection),
      isLast: endsWithRun === undefined ? undefined : (envelope) => endsRun(envelope, endsWithRun),
      onTailError: (error) => reply.log.warn({ err: { message: error instanceof Error ? error.message : String(error) } }, 'event stream tail failed'),
    });
    if (this.closing) {
      await stream.close();
      this.refuseWhileClosing();
    }
    this.streams.add(stream);
    void stream.done.then(() => {
      this.streams.delete(stream);
      plan.release();
    });
    void reply.code(200).headers(SSE_HEADERS).send(stream.body);
  }

  /**
   * The ended run's terminal event is not in the log and will not come: sends `gap`, then ends, with the
   * log's end as the client's cursor (so its reconnect gets 204).
   */
  private sendGone({ reply, lastEventId }: StreamRequest, plan: ResumePlan, log: EventLogInfo): void {
    const gap: GapNotice = { reason: plan.kind === 'gap' ? plan.reason : 'retention', resumed_from: lastEventId };
    const body =
      formatRetry(this.settings.streamRetryMs ?? DEFAULT_STREAM_RETRY_MS) +
      formatEvent({ event: 'gap', data: JSON.stringify(gap) }) +
      formatEvent({ id: formatCursor(epochTag(log.epoch), log.lastSequence), event: READY_EVENT, data: '{}' });
    void reply.code(200).headers(SSE_HEADERS).send(body);
  }

  /**
   * The log sequence of a terminal run's last event, read from shortly before it finished. Null when
   * it cannot be found in time (not relayed yet, or no longer retained).
   */
  private async findTerminalEvent(run: RunView): Promise<number | null> {
    const since = Date.parse(run.finished_at ?? run.updated_at) - RUN_START_SKEW_MS;
    const found = await this.firstEvent(RunStatusChanged.subject, { kind: 'time', time: new Date(since) }, ({ envelope }) => endsRun(envelope, run.id));
    return found?.sequence ?? null;
  }

  /**
   * Whether a terminal run's last event, not found in the log, has left it (rather than not being
   * relayed yet): the log no longer reaches back to shortly before the run finished.
   */
  private async isTerminalEventGone(run: RunView, log: EventLogInfo): Promise<boolean> {
    if (log.firstSequence <= 1) return false; // nothing has ever left this log
    if (log.firstSequence > log.lastSequence) return true; // everything has
    const first = await this.firstEvent(ALL_EVENTS_FILTER, { kind: 'after', sequence: log.firstSequence - 1 }, () => true);
    if (first === null) return true;
    return Date.parse(first.envelope.occurred_at) > Date.parse(run.finished_at ?? run.updated_at) - RUN_START_SKEW_MS;
  }

  /** The first event from `start` that `matches`, or null when none comes within the request timeout. */
  private async firstEvent(filterSubject: string, start: TailStart, matches: (event: LoggedEvent) => boolean): Promise<LoggedEvent | null> {
    let found!: (event: LoggedEvent) => void;
    const located = new Promise<LoggedEvent>((resolve) => (found = resolve));
    const tail = await this.bus.tail({
      filterSubject,
      start,
      handler: (event) => {
        if (matches(event)) found(event);
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
