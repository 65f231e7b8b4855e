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
import type { ServiceClient } from '../edge/service-client.js';
import { epochTag, formatCursor } from './event-cursor.js';
import { EventStreamsService, type StreamRequest } from './event-streams.service.js';
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
    send(body?: Readable) {
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

function setup(answers: Partial<Record<string, (payload: unknown) => unknown>> = {}) {
  const log = new FakeEventLog();
  const service = new EventStreamsService(log, fakeServices(answers), { requestTimeoutMs: 500, streamHeartbeatMs: 60_000, streamRetryMs: 10 } as never);
  const open = async (call: (request: StreamRequest) => Promise<void>, lastEventId: string | null = null): Promise<Answer> => {
    const { reply, answer } = fakeReply();
    await call({ scope: admin, lastEventId, requestId: 'r', reply });
    return answer;
  };
  return { log, service, open };
}

const idsIn = (text: string) => [...text.matchAll(/^id: (.*)$/gm)].map((m) => m[1]);
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
      expect(answer.text()).toMatch(new RegExp(`^retry: 10\\n\\nevent: gap\\ndata: \\{"reason":"retention","resumed_from":"${cursor}"\\}\\n\\nid: ${tag}-4\\n`));
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
