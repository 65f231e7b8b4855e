import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { expectEventually } from '@runyard/testing';
import { ApiClient } from './http-client.js';

/**
 * W3C trace context end to end, as a client sees it, in every run mode: a chat turn sent with a
 * `traceparent` is answered in the same trace, and every event it causes — across the sessions and
 * runs services, the worker that executes its run, and the consumer that records the worker's
 * message — carries that trace id. The booted instance must run a worker with the echo executor.
 */
export interface BootedTracingRunyard {
  url: string;
  systemKey: string;
  close(): Promise<void>;
}

type Json = Record<string, unknown>;
interface Envelope {
  id: string;
  subject: string;
  trace_id?: string;
  run_id?: string;
  data: Json;
}

/** What tells events of one subject apart here: a message's role, a status change's new status. */
function detailOf(event: Envelope): string {
  const { role, to } = event.data;
  return typeof role === 'string' ? role : typeof to === 'string' ? to : '';
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** A live SSE connection read with fetch; `events` fills as they arrive. */
interface OpenStream {
  events: Envelope[];
  ready: Promise<void>;
  close(): void;
}

function openStream(url: string, key: string): OpenStream {
  const abort = new AbortController();
  const events: Envelope[] = [];
  let markReady!: () => void;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  void (async () => {
    const response = await fetch(url, { headers: { authorization: `Bearer ${key}`, accept: 'text/event-stream' }, signal: abort.signal });
    if (!response.ok || !response.body) throw new Error(`stream answered ${response.status}`);
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of response.body) {
      buffer += decoder.decode(chunk as Uint8Array, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const type = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (type === 'ready') markReady();
        else if (data !== undefined && type !== 'heartbeat' && type !== 'gap') events.push(JSON.parse(data) as Envelope);
      }
    }
  })().catch(() => undefined);
  return { events, ready, close: () => abort.abort() };
}

export function describeTracing(mode: string, boot: () => Promise<BootedTracingRunyard>): void {
  describe(`Trace context over HTTP (${mode})`, () => {
    let runyard: BootedTracingRunyard;
    let admin: ApiClient;
    let adminKey: string;

    beforeAll(async () => {
      runyard = await boot();
      const system = new ApiClient(runyard.url, runyard.systemKey);
      const tenant = await system.post<{ api_key: Json }>('/v1/tenants', { name: `Tracing ${mode}` });
      expect(tenant.status).toBe(201);
      adminKey = tenant.body.api_key.key as string;
      admin = new ApiClient(runyard.url, adminKey);
    }, 120_000);

    afterAll(async () => {
      await runyard?.close();
    });

    it('links a chat turn, its run, the worker’s steps and the assistant’s message by the trace id the client sent', async () => {
      const session = await admin.post<Json>('/v1/sessions', { title: 'traced' });
      const sessionId = session.body.id as string;
      const stream = openStream(`${runyard.url}/v1/events/stream?session_id=${sessionId}`, adminKey);
      try {
        await stream.ready;
        const traceId = randomBytes(16).toString('hex');
        const clientSpan = randomBytes(8).toString('hex');

        const turn = await admin.post<{ message: Json; run: Json }>(`/v1/sessions/${sessionId}/turns`, { content: 'hello, trace' }, {
          traceparent: `00-${traceId}-${clientSpan}-01`,
          tracestate: 'client=1',
        });

        expect(turn.status).toBe(201);
        const answered = TRACEPARENT.exec(turn.headers.get('traceparent') ?? '');
        expect(answered?.[1]).toBe(traceId);
        expect(answered?.[2]).not.toBe(clientSpan); // the gateway's own span
        expect(turn.headers.get('x-request-id')).toBeTruthy();
        const runId = turn.body.run.id as string;
        expect(turn.body.run.trace_id).toBe(traceId);
        // The span the runs service handled the run's creation in: a descendant of the client's and
        // the gateway's spans, and the parent of the run's execution.
        const creatingSpan = turn.body.run.trace_parent_span_id;
        expect(creatingSpan).toMatch(/^[0-9a-f]{16}$/);
        expect([clientSpan, answered?.[2]]).not.toContain(creatingSpan);

        // Until the worker's reply has been recorded in the session (the last thing the turn causes).
        const caused = await expectEventually(() => {
          const subjects = stream.events.map((event) => `${event.subject}:${detailOf(event)}`);
          expect(subjects).toEqual(
            expect.arrayContaining([
              'sessions.evt.message.appended.v1:user',
              'runs.evt.run.created.v1:',
              'runs.evt.run.status_changed.v1:running',
              'runs.evt.plan_step.added.v1:',
              'runs.evt.run.message_posted.v1:',
              'runs.evt.run.status_changed.v1:completed',
              'sessions.evt.message.appended.v1:assistant',
            ]),
          );
          // The session's own creation was in another request; its event may reach the stream late.
          return stream.events.filter((event) => event.subject !== 'sessions.evt.session.created.v1');
        }, { timeoutMs: 30_000 });
        expect(caused.map((event) => ({ subject: event.subject, trace_id: event.trace_id }))).toEqual(
          caused.map((event) => ({ subject: event.subject, trace_id: traceId })),
        );

        // The run's own history (from the runs service's outbox) says the same.
        const history = await admin.get<{ data: Envelope[] }>(`/v1/runs/${runId}/events?limit=100`);
        expect(history.status).toBe(200);
        expect(history.body.data.length).toBeGreaterThanOrEqual(5);
        expect(new Set(history.body.data.map((event) => event.trace_id))).toEqual(new Set([traceId]));

        // The worker's spans continue the chain: the run's root span (the tree's only root: its parent
        // is not recorded) hangs under that span, in the client's trace.
        const trace = await expectEventually(async () => {
          const response = await admin.get<{ trace_id: string | null; spans: Array<{ name: string; parent_span_id: string | null; end_time: string | null }> }>(`/v1/runs/${runId}/trace`);
          expect(response.status).toBe(200);
          expect(response.body.spans.map((span) => ({ name: span.name, ended: span.end_time !== null }))).toEqual([{ name: 'run', ended: true }]);
          return response.body;
        }, { timeoutMs: 30_000 });
        expect(trace.trace_id).toBe(traceId);
        expect(trace.spans[0].parent_span_id).toBe(creatingSpan);
      } finally {
        stream.close();
      }
    }, 60_000);

    it('starts a new trace for a request without a valid traceparent, and answers it', async () => {
      const first = await admin.post<Json>('/v1/sessions', { title: 'untraced' });
      const second = await admin.post<Json>('/v1/sessions', { title: 'bad trace' }, { traceparent: `00-${'0'.repeat(32)}-${'1'.repeat(16)}-01` });

      const ids = [first, second].map((response) => TRACEPARENT.exec(response.headers.get('traceparent') ?? '')?.[1]);
      expect(ids[0]).toMatch(/^[0-9a-f]{32}$/);
      expect(ids[1]).toMatch(/^[0-9a-f]{32}$/);
      expect(ids[1]).not.toBe('0'.repeat(32));
      expect(ids[0]).not.toBe(ids[1]);
      // Errors are answered in their trace too.
      const missing = await admin.get('/v1/sessions/00000000-0000-7000-8000-000000000000');
      expect(missing.status).toBe(404);
      expect(missing.headers.get('traceparent')).toMatch(TRACEPARENT);
    });
  });
}
