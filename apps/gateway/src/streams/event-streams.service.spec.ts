import { describe, expect, it } from '@jest/globals';
import {
  CallerScope,
  DomainError,
  ErrorCode,
  GetRun,
  GetSession,
  RunCreated,
  RunStatusChanged,
  SessionCreated,
  type AnyCommand,
  type RunView,
} from '@runyard/contracts';
import { expectEventually } from '@runyard/testing';
import type { FastifyReply } from 'fastify';
import type { Readable } from 'node:stream';
import { v7 as uuidv7 } from 'uuid';
import type { GatewaySettings } from '../config.js';
import type { ServiceClient } from '../edge/service-client.js';
import { epochTag, formatCursor } from './event-cursor.js';
import { EventStreamsService, type StreamRequest } from './event-streams.service.js';
import { StreamSlots } from './stream-slots.js';
import { FakeEventLog } from './fake-event-log.fixture.js';

const tenant = uuidv7();
const admin = Object.assign(new CallerScope(), { tenant_id: tenant, principal_id: uuidv7(), role: 'admin' as const });

/** What the service did with the reply: a status, and for streams the headers and body. */
interface Answer {
  status: number;
  headers: Record<string, string>;
  body?: Readable;
  text: () => string;
  ended: Promise<void>;
}

function fakeReply(): { reply: FastifyReply; answer: Answer } {
  let text = '';
  let markEnded!: () => void;
  const answer: Answer = { status: 200, headers: {}, text: () => text, ended: new Promise((resolve) => (markEnded = resolve)) };
  const reply = {
    code(status: number) {
      answer.status = status;
      return reply;
    },
    headers(headers: Record<string, string>) {
      Object.assign(answer.headers, headers);
      return reply;
    },
    send(body?: Readable | string) {
      if (typeof body === 'string') {
        text = body;
        markEnded();
        return reply;
      }
      answer.body = body;
      if (body === undefined) markEnded();
      body?.on('data', (chunk: Buffer) => (text += chunk.toString()));
      body?.once('close', () => markEnded());
      return reply;
    },
    log: { warn: () => undefined },
  };
  return { reply: reply as unknown as FastifyReply, answer };
}

/** Strict: only the commands a test expects are answered. */
function fakeServices(answers: Partial<Record<string, (payload: unknown) => unknown>>): ServiceClient {
  return {
    request: (command: AnyCommand, payload: unknown) => {
      const answer = answers[command.subject];
      if (!answer) throw new Error(`unexpected command ${command.subject}`);
      return Promise.resolve().then(() => answer(payload));
    },
  } as unknown as ServiceClient;
}

function setup(answers: Partial<Record<string, (payload: unknown) => unknown>> = {}, settings: Partial<GatewaySettings> = {}) {
  const log = new FakeEventLog();
  const gatewaySettings = { requestTimeoutMs: 500, streamHeartbeatMs: 60_000, streamRetryMs: 10, ...settings } as GatewaySettings;
  const service = new EventStreamsService(log, fakeServices(answers), gatewaySettings, new StreamSlots(gatewaySettings));
  const open = async (call: (request: StreamRequest) => Promise<void>, lastEventId: string | null = null, scope: CallerScope = admin): Promise<Answer> => {
    const { reply, answer } = fakeReply();
    await call({ scope, lastEventId, requestId: 'r', reply });
    return answer;
  };
  return { log, service, open };
}

/** The frames of an SSE text as `event:id` (comments and `retry:` left out). */
function framesIn(text: string): string[] {
  return text
    .split('\n\n')
    .filter((frame) => frame.length > 0 && !frame.startsWith(':') && !frame.startsWith('retry:'))
    .map((frame) => `${/^event: (.*)$/m.exec(frame)?.[1] ?? ''}:${/^id: (.*)$/m.exec(frame)?.[1] ?? ''}`);
}
/** The `id:` of the events sent, control events (`ready`, `heartbeat`) left out. */
const idsIn = (text: string) =>
  framesIn(text)
    .filter((frame) => !frame.startsWith('ready:') && !frame.startsWith('heartbeat:'))
    .map((frame) => frame.slice(frame.indexOf(':') + 1))
    .filter((id) => id !== '');
const mine = { tenant_id: tenant, owner_id: admin.principal_id };

describe('EventStreamsService', () => {
  describe('the events stream', () => {
    it('continues strictly after a current cursor, without a gap', async () => {
      const { log, service, open } = setup();
      for (let i = 0; i < 5; i++) log.append(mine);
      const tag = epochTag(log.epoch);
      const answer = await open((request) => service.streamEvents(request, {}), formatCursor(tag, 3));
      await expectEventually(() => expect(idsIn(answer.text())).toEqual([`${tag}-4`, `${tag}-5`]));
      expect(answer.headers['content-type']).toMatch(/^text\/event-stream/);
      expect(answer.text()).not.toContain('event: gap');
      await service.onModuleDestroy();
    });

    it('reports a retention gap, then sends everything retained', async () => {
      const { log, service, open } = setup();
      for (let i = 0; i < 6; i++) log.append(mine);
      log.firstSequence = 4;
      const tag = epochTag(log.epoch);
      const cursor = formatCursor(tag, 1);
      const answer = await open((request) => service.streamEvents(request, {}), cursor);
      await expectEventually(() => expect(idsIn(answer.text())).toEqual([`${tag}-4`, `${tag}-5`, `${tag}-6`]));
      expect(answer.text()).toMatch(
        new RegExp(`^retry: 10\\n\\nevent: gap\\ndata: \\{"reason":"retention","resumed_from":"${cursor}"\\}\\n\\nid: ${tag}-3\\nevent: ready\\ndata: \\{\\}\\n\\nid: ${tag}-4\\n`),
      );
      await service.onModuleDestroy();
    });

    it('reports an epoch gap for a cursor of another log, then sends everything retained', async () => {
      const { log, service, open } = setup();
      for (let i = 0; i < 2; i++) log.append(mine);
      const cursor = formatCursor(epochTag('an older log'), 2);
      const answer = await open((request) => service.streamEvents(request, {}), cursor);
      const tag = epochTag(log.epoch);
      await expectEventually(() => expect(idsIn(answer.text())).toEqual([`${tag}-1`, `${tag}-2`]));
      expect(answer.text()).toContain(`event: gap\ndata: {"reason":"epoch","resumed_from":"${cursor}"}\n\n`);
      await service.onModuleDestroy();
    });

    it('gives a fresh stream the log’s end as its first cursor, and sends everything stored after it', async () => {
      const { log, service, open } = setup();
      for (let i = 0; i < 3; i++) log.append(mine);
      const answer = await open((request) => service.streamEvents(request, {}));
      // Stored before the tail has read anything: still after the start, so still sent.
      log.append(mine);
      log.append(mine);
      const tag = epochTag(log.epoch);
      await expectEventually(() => expect(framesIn(answer.text())).toEqual([`ready:${tag}-3`, `session.created:${tag}-4`, `session.created:${tag}-5`]));
      expect(log.lastTail.options.start).toEqual({ kind: 'after', sequence: 3 });
      await service.onModuleDestroy();
    });

    it('refuses a cursor beyond the end of the log with invalid_cursor, opening nothing', async () => {
      const { log, service, open } = setup();
      for (let i = 0; i < 3; i++) log.append(mine);
      const tag = epochTag(log.epoch);
      await expect(open((request) => service.streamEvents(request, {}), formatCursor(tag, 4))).rejects.toMatchObject({ code: ErrorCode.INVALID_CURSOR });
      expect(log.allTails).toHaveLength(0);
      const current = await open((request) => service.streamEvents(request, {}), formatCursor(tag, 3));
      expect(current.status).toBe(200);
      await service.onModuleDestroy();
    });

    it('checks a filter’s session before streaming, and opens nothing when it is not visible', async () => {
      const asked: unknown[] = [];
      const { log, service, open } = setup({
        [GetSession.subject]: (payload) => {
          asked.push(payload);
          throw new DomainError(ErrorCode.NOT_FOUND, 'session not found');
        },
      });
      const sessionId = uuidv7();
      await expect(open((request) => service.streamEvents(request, { sessionId }))).rejects.toMatchObject({ code: ErrorCode.NOT_FOUND });
      expect(asked).toEqual([{ scope: admin, session_id: sessionId }]);
      expect(log.allTails).toHaveLength(0);
    });

    it('refuses a malformed cursor before asking anything', async () => {
      const { log, service, open } = setup();
      await expect(open((request) => service.streamEvents(request, { sessionId: uuidv7() }), 'nope')).rejects.toMatchObject({ code: ErrorCode.INVALID_CURSOR });
      expect(log.allTails).toHaveLength(0);
    });
  });

  describe('the run stream', () => {
    const runId = uuidv7();
    const run = (status: string): RunView => {
      const now = new Date().toISOString();
      return { id: runId, status, created_at: now, updated_at: now, finished_at: status === 'cancelled' ? now : null } as RunView;
    };
    const ofRun = { ...mine, run_id: runId };

    /** seq 1 other, 2 created, 3 other, 4 pending→cancelled, 5 other. */
    function endedRun(log: FakeEventLog): void {
      log.append(mine);
      log.append({ ...ofRun, subject: RunCreated.subject });
      log.append(mine);
      log.append({ ...ofRun, subject: RunStatusChanged.subject, data: { from: 'pending', to: 'cancelled' } });
      log.append(mine);
    }

    it('tells a client that has the terminal event to stop (204), leaving no tail behind', async () => {
      const { log, service, open } = setup({ [GetRun.subject]: () => run('cancelled') });
      endedRun(log);
      const tag = epochTag(log.epoch);
      for (const cursor of [formatCursor(tag, 4), formatCursor(tag, 5)]) {
        const answer = await open((request) => service.streamRun(request, runId), cursor);
        expect(answer.status).toBe(204);
        expect(answer.body).toBeUndefined();
      }
      expect(log.tails.size).toBe(0);
    });

    it('sends an ended run’s remaining events and ends, from a cursor or from its creation', async () => {
      const { log, service, open } = setup({ [GetRun.subject]: () => run('cancelled') });
      endedRun(log);
      const tag = epochTag(log.epoch);
      const rest = await open((request) => service.streamRun(request, runId), formatCursor(tag, 2));
      await rest.ended;
      expect(idsIn(rest.text())).toEqual([`${tag}-4`]);
      const all = await open((request) => service.streamRun(request, runId));
      await all.ended;
      expect(idsIn(all.text())).toEqual([`${tag}-2`, `${tag}-4`]);
      expect(log.tails.size).toBe(0);
    });

    it('sends a gap and ends when the ended run’s terminal event has left the log; the client’s next request gets 204', async () => {
      const { log, service, open } = setup({ [GetRun.subject]: () => run('cancelled') });
      endedRun(log);
      log.append(mine);
      log.firstSequence = 5; // the run's events (2 and 4) are gone
      const tag = epochTag(log.epoch);
      const gone = `ready:${tag}-6`;

      const fresh = await open((request) => service.streamRun(request, runId));
      await fresh.ended;
      expect(fresh.status).toBe(200);
      expect(framesIn(fresh.text())).toEqual(['gap:', gone]);
      expect(fresh.text()).toContain('event: gap\ndata: {"reason":"retention","resumed_from":null}\n\n');
      const old = formatCursor(tag, 1);
      const fromOld = await open((request) => service.streamRun(request, runId), old);
      await fromOld.ended;
      expect(framesIn(fromOld.text())).toEqual(['gap:', gone]);
      expect(fromOld.text()).toContain(`"resumed_from":"${old}"`);

      const again = await open((request) => service.streamRun(request, runId), formatCursor(tag, 6));
      expect(again.status).toBe(204);
      expect(log.tails.size).toBe(0);
    });

    it('follows a live run and ends after its terminal status change', async () => {
      const { log, service, open } = setup({ [GetRun.subject]: () => run('pending') });
      log.append({ ...ofRun, subject: RunCreated.subject });
      const answer = await open((request) => service.streamRun(request, runId));
      log.append({ ...mine, subject: SessionCreated.subject });
      log.append({ ...ofRun, subject: RunStatusChanged.subject, data: { from: 'pending', to: 'running' } });
      log.append({ ...ofRun, subject: RunStatusChanged.subject, data: { from: 'running', to: 'completed' } });
      log.append({ ...ofRun, subject: RunStatusChanged.subject, data: { from: 'completed', to: 'running' } });
      await answer.ended;
      const tag = epochTag(log.epoch);
      expect(idsIn(answer.text())).toEqual([`${tag}-1`, `${tag}-3`, `${tag}-4`]);
      expect(log.tails.size).toBe(0);
    });
  });

  it('limits the streams open at once per principal (429 rate_limited, Retry-After), counting each until it ends', async () => {
    const { service, open } = setup({}, { streamMaxPerPrincipal: 2 });
    const events = (request: StreamRequest) => service.streamEvents(request, {});
    const first = await open(events);
    await open(events);

    const refused = await open(events).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(DomainError);
    expect(refused).toMatchObject({ code: ErrorCode.RATE_LIMITED, details: { retryAfterSeconds: 5 } });
    // Another principal of the tenant has its own count.
    const other = Object.assign(new CallerScope(), { ...admin, principal_id: uuidv7() });
    expect((await open(events, null, other)).status).toBe(200);

    // A stream that ends (its client went away) gives its slot back; a refused request takes none.
    first.body?.destroy();
    await first.ended;
    await expectEventually(async () => expect((await open(events)).status).toBe(200));
    await expect(open(events)).rejects.toMatchObject({ code: ErrorCode.RATE_LIMITED });
    await service.onModuleDestroy();
  });

  it('frees the slot of a request that fails before streaming', async () => {
    const { service, open } = setup({ [GetSession.subject]: () => Promise.reject(new DomainError(ErrorCode.NOT_FOUND, 'no')) }, { streamMaxPerPrincipal: 1 });
    for (let i = 0; i < 3; i++) {
      await expect(open((request) => service.streamEvents(request, { sessionId: uuidv7() }))).rejects.toMatchObject({ code: ErrorCode.NOT_FOUND });
    }
    expect((await open((request) => service.streamEvents(request, {}))).status).toBe(200);
    await service.onModuleDestroy();
  });

  it('ends a stream after the configured maximum lifetime', async () => {
    const { log, service, open } = setup({}, { streamMaxLifetimeMs: 50 });
    const answer = await open((request) => service.streamEvents(request, {}));
    await answer.ended;
    expect(answer.status).toBe(200);
    expect(log.tails.size).toBe(0);
  });

  it('ends open streams on shutdown and refuses new ones', async () => {
    const { log, service, open } = setup();
    const answer = await open((request) => service.streamEvents(request, {}));
    expect(log.tails.size).toBe(1);
    await service.onModuleDestroy();
    await answer.ended;
    expect(log.tails.size).toBe(0);
    await expect(open((request) => service.streamEvents(request, {}))).rejects.toMatchObject({ code: ErrorCode.SERVICE_UNAVAILABLE });
  });
});
