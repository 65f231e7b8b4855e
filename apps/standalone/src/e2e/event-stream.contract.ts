import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { expectEventually } from '@runyard/testing';
import { ErrorEvent, EventSource, type FetchLike, type FetchLikeResponse } from 'eventsource';
import { v7 as uuidv7 } from 'uuid';
import { ApiClient, type ApiResponse } from './http-client.js';

/**
 * The live event streams (SSE) over HTTP, as a client sees them, in every run mode: exact resumption
 * (no loss, no repeat) across random disconnects, member and tenant scoping, gaps, the run stream's
 * end and 204, filters and errors. Clients are the `eventsource` package, as applications use it.
 */
export interface BootedStreamsRunyard {
  url: string;
  systemKey: string;
  close(): Promise<void>;
}

/**
 * Gateway settings the booted instance must have: fast heartbeats and reconnects keep the suite quick; a
 * small per-principal stream limit (each test's principals stay well under it, but for the one that tests it).
 */
export const STREAM_SUITE_SETTINGS = { streamHeartbeatMs: 100, streamRetryMs: 20, streamMaxPerPrincipal: 10 };

type Json = Record<string, unknown>;
interface Envelope {
  id: string;
  subject: string;
  tenant_id: string;
  owner_id?: string;
  session_id?: string;
  run_id?: string;
  occurred_at: string;
  data: Json;
}
/** One SSE event as the EventSource dispatched it. */
interface Received {
  id: string;
  type: string;
  data: string;
}
interface Tenant {
  admin: ApiClient;
  adminKey: string;
  adminId: string;
  tenantId: string;
}

const envelopeOf = (event: Received): Envelope => JSON.parse(event.data) as Envelope;
const dataIdOf = (event: Received): string => envelopeOf(event).data.id as string;
const sequenceOf = (id: string): number => Number(/-([0-9]+)$/.exec(id)?.[1] ?? NaN);
const TERMINAL = ['completed', 'failed', 'cancelled', 'expired'];
/** Events that only carry the stream's cursor (`ready` at the start, `heartbeat` when it moved past others' events). */
const CONTROL_EVENTS = new Set(['ready', 'heartbeat']);

function expectProblem(response: ApiResponse, status: number, code: string): void {
  expect({ status: response.status, code: (response.body as Json).code }).toEqual({ status, code });
  expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
}

/** Seeded, so a failing interleaving can be replayed with STREAM_CHAOS_SEED. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Connection {
  /** Drops the current connection as a network failure would: the EventSource reconnects by itself. */
  cut?: () => void;
  /** While set, the next connection attempt waits for it. */
  hold?: Promise<void>;
  /** The `Last-Event-ID` each connection attempt sent. */
  lastEventIds: (string | undefined)[];
}

/** A response whose body the test can cut; the real connection is cancelled with it. */
function cuttable(response: Response, connection: Connection): FetchLikeResponse {
  const source = response.body as ReadableStream<Uint8Array> | null;
  if (source === null) return response;
  const reader = source.getReader();
  let cut = false;
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const body = new ReadableStream<Uint8Array>({
    start: (c) => {
      controller = c;
    },
    pull: async (c) => {
      let result: Awaited<ReturnType<typeof reader.read>>;
      try {
        result = await reader.read();
      } catch (error) {
        if (!cut) c.error(error);
        return;
      }
      if (cut) return;
      if (result.done) c.close();
      else c.enqueue(result.value);
    },
    cancel: (reason) => reader.cancel(reason),
  });
  connection.cut = () => {
    if (cut) return;
    cut = true;
    try {
      controller.close();
    } catch {
      // Already closed or errored.
    }
    reader.cancel().catch(() => undefined);
  };
  return { body, url: response.url, status: response.status, redirected: response.redirected, headers: response.headers };
}

function authorizedFetch(key: string, initialLastEventId: string | undefined, connection: Connection): FetchLike {
  return async (url, init) => {
    const headers: Record<string, string> = { ...init.headers, authorization: `Bearer ${key}` };
    // The EventSource sends its own Last-Event-ID once it has received an event; until then, the one we resume from.
    if (initialLastEventId !== undefined && headers['Last-Event-ID'] === undefined) headers['Last-Event-ID'] = initialLastEventId;
    await connection.hold;
    connection.lastEventIds.push(headers['Last-Event-ID']);
    return cuttable(await fetch(url, { ...init, headers }), connection);
  };
}

interface SourceOptions {
  lastEventId?: string;
  onEvent?: (event: Received, source: RecordingEventSource) => void;
}

/**
 * An EventSource that records every event it dispatches, whatever its type (control events apart, as a
 * client that listens for the types it knows), and every error code.
 */
class RecordingEventSource extends EventSource {
  readonly received: Received[] = [];
  /** `ready` and `heartbeat` events. */
  readonly controls: Received[] = [];
  readonly errorCodes: (number | undefined)[] = [];
  private readonly connection: Connection;
  private readonly onEvent: SourceOptions['onEvent'];

  constructor(url: string, key: string, options: SourceOptions = {}) {
    const connection: Connection = { lastEventIds: [] };
    super(url, { fetch: authorizedFetch(key, options.lastEventId, connection) });
    this.connection = connection;
    this.onEvent = options.onEvent;
  }

  override dispatchEvent(event: Event): boolean {
    if (event instanceof ErrorEvent) {
      this.errorCodes.push(event.code);
    } else if (event instanceof MessageEvent) {
      // As in browsers, a closed source delivers nothing more (not even the rest of a chunk already read).
      if (this.readyState === this.CLOSED) return false;
      const received: Received = { id: event.lastEventId, type: event.type, data: String(event.data) };
      if (CONTROL_EVENTS.has(received.type)) {
        this.controls.push(received);
      } else {
        this.received.push(received);
        this.onEvent?.(received, this);
      }
    }
    return super.dispatchEvent(event);
  }

  cutConnection(): void {
    this.connection.cut?.();
  }

  /** Makes the next reconnection wait until the returned function is called. */
  holdReconnection(): () => void {
    let release!: () => void;
    this.connection.hold = new Promise<void>((resolve) => (release = resolve));
    return () => {
      this.connection.hold = undefined;
      release();
    };
  }

  /** The `Last-Event-ID` each connection sent (undefined without one). */
  get lastEventIdsSent(): (string | undefined)[] {
    return this.connection.lastEventIds;
  }

  opened(): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.readyState === this.OPEN) return resolve();
      this.addEventListener('open', () => resolve(), { once: true });
      this.addEventListener('error', (error) => (this.readyState === this.CLOSED ? reject(new Error(`stream failed: ${error.code}`)) : undefined), { once: true });
    });
  }
}

/** A raw read of a stream, for wire-level assertions: reads until `until(text)` or the end of the body. */
async function readRaw(
  url: string,
  headers: Record<string, string>,
  until: (text: string) => boolean = () => false,
): Promise<{ status: number; headers: Headers; text: string; ended: boolean }> {
  const abort = new AbortController();
  const response = await fetch(url, { headers, signal: abort.signal });
  let text = '';
  let ended = false;
  if (response.body) {
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    while (!until(text)) {
      const { done, value } = await reader.read();
      if (done) {
        ended = true;
        break;
      }
      text += decoder.decode(value, { stream: true });
    }
  }
  abort.abort();
  return { status: response.status, headers: response.headers, text, ended };
}

/** The events of a raw SSE text (id may be absent), control events left out. */
function parseFrames(text: string): { id?: string; event?: string; data?: string }[] {
  return text
    .split('\n\n')
    .filter((frame) => frame.length > 0 && !frame.startsWith(':') && !frame.startsWith('retry:'))
    .map((frame) => {
      const fields: { id?: string; event?: string; data?: string } = {};
      for (const line of frame.split('\n')) {
        const [name, ...rest] = line.split(': ');
        if (name === 'id' || name === 'event' || name === 'data') fields[name] = rest.join(': ');
      }
      return fields;
    })
    .filter((fields) => !CONTROL_EVENTS.has(fields.event ?? ''));
}

export function describeEventStreams(mode: string, boot: () => Promise<BootedStreamsRunyard>): void {
  describe(`event streams (${mode})`, () => {
    let runyard: BootedStreamsRunyard;
    let anonymous: ApiClient;
    let system: ApiClient;
    let closed = false;
    const sources: RecordingEventSource[] = [];

    const eventsUrl = (query = '') => `${runyard.url}/v1/events/stream${query}`;
    const runUrl = (runId: string, query = '') => `${runyard.url}/v1/runs/${runId}/stream${query}`;

    function source(url: string, key: string, options?: SourceOptions): RecordingEventSource {
      const es = new RecordingEventSource(url, key, options);
      sources.push(es);
      return es;
    }

    async function createTenant(name: string): Promise<Tenant> {
      const response = await system.post<{ tenant: Json; principal: Json; api_key: Json }>('/v1/tenants', { name: `${name}-${uuidv7()}` });
      expect(response.status).toBe(201);
      const key = response.body.api_key.key as string;
      return { admin: anonymous.as(key), adminKey: key, adminId: response.body.principal.id as string, tenantId: response.body.tenant.id as string };
    }

    async function createMember(tenant: Tenant): Promise<{ client: ApiClient; key: string; id: string }> {
      const principal = await tenant.admin.post<Json>('/v1/principals', { name: 'member', kind: 'user', role: 'member' });
      expect(principal.status).toBe(201);
      const key = await tenant.admin.post<Json>('/v1/api-keys', { name: 'member key', principal_id: principal.body.id });
      expect(key.status).toBe(201);
      return { client: anonymous.as(key.body.key as string), key: key.body.key as string, id: principal.body.id as string };
    }

    async function createSession(client: ApiClient, title = 'streamed'): Promise<string> {
      const response = await client.post<Json>('/v1/sessions', { title });
      expect(response.status).toBe(201);
      return response.body.id as string;
    }

    async function appendMessage(client: ApiClient, sessionId: string, content: string): Promise<string> {
      const response = await client.post<Json>(`/v1/sessions/${sessionId}/messages`, { role: 'user', content });
      expect(response.status).toBe(201);
      return response.body.id as string;
    }

    async function createRun(client: ApiClient, sessionId: string): Promise<string> {
      const response = await client.post<Json>('/v1/runs', { session_id: sessionId, input: 'stream me' });
      expect(response.status).toBe(201);
      return response.body.id as string;
    }

    /** Waits until `es` has received an event whose data has this id, and returns it. */
    function receivedFor(es: RecordingEventSource, type: string, dataId: string): Promise<Received> {
      return expectEventually(
        () => {
          const found = es.received.find((event) => event.type === type && dataIdOf(event) === dataId);
          expect(found).toBeDefined();
          return found!;
        },
        { timeoutMs: 20_000 },
      );
    }

    beforeAll(async () => {
      runyard = await boot();
      anonymous = new ApiClient(runyard.url);
      system = anonymous.as(runyard.systemKey);
    });

    afterAll(async () => {
      for (const es of sources) es.close();
      if (!closed) await runyard?.close();
    });

    it('speaks SSE: retry first, typed events with cursors, heartbeats, and the edge headers', async () => {
      const tenant = await createTenant('wire');
      const sessionId = await createSession(tenant.admin);
      const headers = { authorization: `Bearer ${tenant.adminKey}`, 'x-request-id': 'stream-wire-1' };
      // From the start of the log (a cursor of another epoch): the gap notice, then this tenant's session.
      const raw = await readRaw(eventsUrl('?last_event_id=000000000000-0'), headers, (text) => text.includes(sessionId) && text.includes(': ping\n\n'));
      expect(raw.status).toBe(200);
      expect(raw.headers.get('content-type')).toMatch(/^text\/event-stream/);
      expect(raw.headers.get('cache-control')).toMatch(/no-cache/);
      expect(raw.headers.get('x-request-id')).toBe('stream-wire-1');
      expect(raw.headers.get('ratelimit-limit')).not.toBeNull();
      expect(raw.text.startsWith('retry: 20\n\n')).toBe(true);
      // The gap, then the position the stream starts from, before any event.
      expect(raw.text).toMatch(/^retry: 20\n\nevent: gap\ndata: [^\n]*\n\nid: [0-9a-f]{12}-[0-9]+\nevent: ready\ndata: \{\}\n\n/);
      const frames = parseFrames(raw.text);
      const created = frames.find((frame) => frame.data?.includes(sessionId));
      expect(created).toMatchObject({ event: 'session.created', id: expect.stringMatching(/^[0-9a-f]{12}-[0-9]+$/) });
      expect(JSON.parse(created!.data!)).toMatchObject({ subject: 'sessions.evt.session.created.v1', tenant_id: tenant.tenantId, session_id: sessionId });

      const openapi = await anonymous.get<{ paths: Json }>('/v1/openapi.json');
      expect(Object.keys(openapi.body.paths)).toEqual(expect.arrayContaining(['/v1/events/stream', '/v1/runs/{id}/stream']));
    });

    it('resumes exactly — no loss, no repeat — across random disconnects while events are committed', async () => {
      const seed = Number(process.env.STREAM_CHAOS_SEED ?? Date.now() % 1_000_000);
      const random = mulberry32(seed);
      const tenant = await createTenant('chaos');
      const foreign = await createTenant('chaos-foreign');

      // The reference: one uninterrupted stream of the tenant's events.
      const reference = source(eventsUrl(), tenant.adminKey);
      await reference.opened();
      const firstSession = await createSession(tenant.admin, 'before');
      const start = await receivedFor(reference, 'session.created', firstSession);

      // The client under test: resumes from `start`, and is disconnected again and again.
      const resumed: Received[] = [];
      const disconnects = { closedAndReopened: 0, cut: 0 };
      let sinceLast = 0;
      const open = (cursor: string, viaQuery: boolean): void => {
        const url = viaQuery ? eventsUrl(`?last_event_id=${encodeURIComponent(cursor)}`) : eventsUrl();
        source(url, tenant.adminKey, { lastEventId: viaQuery ? undefined : cursor, onEvent });
      };
      const onEvent = (event: Received, from: RecordingEventSource): void => {
        resumed.push(event);
        sinceLast++;
        if (random() >= 0.2 && sinceLast < 8) return;
        sinceLast = 0;
        if ((disconnects.closedAndReopened + disconnects.cut) % 2 === 0) {
          // A new EventSource with the last id received: by query parameter or by header, in turn.
          from.close();
          disconnects.closedAndReopened++;
          open(event.id, disconnects.closedAndReopened % 2 === 0);
        } else {
          // The connection drops; the EventSource reconnects by itself with Last-Event-ID.
          from.cutConnection();
          disconnects.cut++;
        }
      };
      open(start.id, true);

      const committed: string[] = [];
      const writers = Array.from({ length: 4 }, async (_, writer) => {
        for (let s = 0; s < 3; s++) {
          const sessionId = await createSession(tenant.admin, `w${writer}s${s}`);
          committed.push(`session.created:${sessionId}`);
          for (let m = 0; m < 5; m++) committed.push(`message.appended:${await appendMessage(tenant.admin, sessionId, `w${writer} s${s} m${m}`)}`);
        }
      });
      // Another tenant writes at the same time; none of it may show up.
      const intruder = (async () => {
        const sessionId = await createSession(foreign.admin, 'foreign');
        for (let m = 0; m < 5; m++) await appendMessage(foreign.admin, sessionId, `foreign ${m}`);
      })();
      await Promise.all([...writers, intruder]);
      const lastSession = await createSession(tenant.admin, 'after');
      committed.push(`session.created:${lastSession}`);

      const last = await receivedFor(reference, 'session.created', lastSession);
      await expectEventually(() => expect(resumed.map((e) => e.id)).toContain(last.id), { timeoutMs: 20_000 });

      const expected = reference.received.slice(reference.received.indexOf(start) + 1);
      const view = (events: Received[]) => events.map((e) => ({ id: e.id, type: e.type, event_id: envelopeOf(e).id }));
      try {
        expect(view(resumed)).toEqual(view(expected));
      } catch (error) {
        throw new Error(`resumed stream differs (STREAM_CHAOS_SEED=${seed}, disconnects ${JSON.stringify(disconnects)}): ${String(error)}`);
      }
      expect(new Set(resumed.map((e) => e.id)).size).toBe(resumed.length);
      const sequences = resumed.map((e) => sequenceOf(e.id));
      expect(sequences).toEqual([...sequences].sort((a, b) => a - b));
      // What was streamed is exactly what was committed over HTTP, all of this tenant.
      expect(expected.map((e) => `${e.type}:${dataIdOf(e)}`).sort()).toEqual([...committed].sort());
      expect(new Set(expected.map((e) => envelopeOf(e).tenant_id))).toEqual(new Set([tenant.tenantId]));
      expect(disconnects.closedAndReopened).toBeGreaterThanOrEqual(3);
      expect(disconnects.cut).toBeGreaterThanOrEqual(3);
    });

    it('gives a client its cursor before its first event: dropped at once, it reconnects and gets exactly what was committed meanwhile', async () => {
      const tenant = await createTenant('first-cursor');
      const reference = source(eventsUrl(), tenant.adminKey);
      const es = source(eventsUrl(), tenant.adminKey);
      await reference.opened();
      const ready = await expectEventually(() => {
        const found = es.controls.find((event) => event.type === 'ready');
        expect(found?.id).toMatch(/^[0-9a-f]{12}-[0-9]+$/);
        return found!;
      });

      const releaseReconnection = es.holdReconnection();
      es.cutConnection();
      const sessionId = await createSession(tenant.admin, 'while away');
      const messageId = await appendMessage(tenant.admin, sessionId, 'hello');
      // In the log before the client comes back: a stream starting afresh would not send them.
      await receivedFor(reference, 'message.appended', messageId);
      releaseReconnection();

      await receivedFor(es, 'message.appended', messageId);
      expect(es.received.map((e) => `${e.type}:${dataIdOf(e)}`)).toEqual([`session.created:${sessionId}`, `message.appended:${messageId}`]);
      expect(es.lastEventIdsSent).toEqual([undefined, ready.id]);
      expect(es.received.map((e) => e.id)).toEqual(reference.received.map((e) => e.id));
    });

    it('moves a client’s cursor past other tenants’ events on heartbeats: a reconnect neither loses nor re-reads', async () => {
      const tenant = await createTenant('heartbeat-cursor');
      const foreign = await createTenant('heartbeat-foreign');
      const reference = source(eventsUrl(), tenant.adminKey);
      const es = source(eventsUrl(), tenant.adminKey);
      await reference.opened();
      const ready = await expectEventually(() => {
        const found = es.controls.find((event) => event.type === 'ready');
        expect(found).toBeDefined();
        return found!;
      });
      const foreignSession = await createSession(foreign.admin, 'elsewhere');
      const moved = await expectEventually(() => {
        const found = es.controls.find((event) => event.type === 'heartbeat' && sequenceOf(event.id) > sequenceOf(ready.id));
        expect(found).toBeDefined();
        return found!;
      });
      expect(es.received).toEqual([]);

      const releaseReconnection = es.holdReconnection();
      es.cutConnection();
      const sessionId = await createSession(tenant.admin, 'mine');
      await receivedFor(reference, 'session.created', sessionId);
      releaseReconnection();

      await receivedFor(es, 'session.created', sessionId);
      expect(es.received.map((e) => `${e.type}:${dataIdOf(e)}`)).toEqual([`session.created:${sessionId}`]);
      const resumedFrom = es.lastEventIdsSent[1];
      expect(sequenceOf(resumedFrom ?? '')).toBeGreaterThanOrEqual(sequenceOf(moved.id));
      expect(es.received.every((e) => envelopeOf(e).session_id !== foreignSession)).toBe(true);
    });

    it('shows a member only its own sessions’ events, and an admin all of the tenant’s', async () => {
      const tenant = await createTenant('scoping');
      const member = await createMember(tenant);
      const memberStream = source(eventsUrl(), member.key);
      const adminStream = source(eventsUrl(), tenant.adminKey);
      await Promise.all([memberStream.opened(), adminStream.opened()]);

      const own = await createSession(member.client, 'mine');
      const ownMessage = await appendMessage(member.client, own, 'hello');
      const adminSession = await createSession(tenant.admin, 'not yours');
      await appendMessage(tenant.admin, adminSession, 'secret');
      const ownRun = await createRun(tenant.admin, own);
      const marker = await createSession(member.client, 'marker');

      await receivedFor(memberStream, 'session.created', marker);
      await receivedFor(adminStream, 'session.created', marker);
      const memberEvents = memberStream.received.map(envelopeOf);
      expect(memberEvents.every((e) => e.owner_id === member.id && e.tenant_id === tenant.tenantId)).toBe(true);
      expect(memberEvents.some((e) => e.session_id === adminSession)).toBe(false);
      expect(memberStream.received.map((e) => `${e.type}:${dataIdOf(e)}`)).toEqual(
        expect.arrayContaining([`session.created:${own}`, `message.appended:${ownMessage}`, `run.created:${ownRun}`]),
      );
      // The admin sees the member's events and its own.
      const adminSessions = new Set(adminStream.received.map((e) => envelopeOf(e).session_id));
      expect(adminSessions).toEqual(new Set([own, adminSession, marker]));

      // A member cannot filter on someone else's session or run.
      const adminRun = await createRun(tenant.admin, adminSession);
      expectProblem(await member.client.get(`/v1/events/stream?session_id=${adminSession}`), 404, 'not_found');
      expectProblem(await member.client.get(`/v1/events/stream?run_id=${adminRun}`), 404, 'not_found');
      expectProblem(await member.client.get(`/v1/runs/${adminRun}/stream`), 404, 'not_found');
    });

    it('sends a gap first when the cursor is from another epoch, then everything retained', async () => {
      const tenant = await createTenant('gap');
      const first = await createSession(tenant.admin, 'one');
      const second = await createSession(tenant.admin, 'two');
      const live = source(eventsUrl(), tenant.adminKey);
      await live.opened();
      const third = await createSession(tenant.admin, 'three');
      const current = await receivedFor(live, 'session.created', third);
      // Same shape, another epoch tag.
      const tag = current.id.slice(0, 12);
      const foreignEpoch = `${tag[0] === 'a' ? 'b' : 'a'}${tag.slice(1)}-${sequenceOf(current.id)}`;

      const resumed = source(eventsUrl(), tenant.adminKey, { lastEventId: foreignEpoch });
      await receivedFor(resumed, 'session.created', third);
      expect(resumed.received[0]).toMatchObject({ type: 'gap', id: '' });
      expect(JSON.parse(resumed.received[0].data)).toEqual({ reason: 'epoch', resumed_from: foreignEpoch });
      expect(resumed.received.slice(1).map((e) => `${e.type}:${dataIdOf(e)}`)).toEqual([
        `session.created:${first}`,
        `session.created:${second}`,
        `session.created:${third}`,
      ]);
      // Resuming with a current cursor sends no gap.
      const exact = await readRaw(eventsUrl(), { authorization: `Bearer ${tenant.adminKey}`, 'last-event-id': resumed.received[1].id }, (text) =>
        text.includes(third),
      );
      expect(parseFrames(exact.text).map((f) => f.event)).toEqual(['session.created', 'session.created']);
    });

    it('streams a run from its creation to its end, then answers 204 so clients stop', async () => {
      const tenant = await createTenant('run');
      const sessionId = await createSession(tenant.admin);
      const runId = await createRun(tenant.admin, sessionId);
      const stream = source(runUrl(runId), tenant.adminKey);
      await receivedFor(stream, 'run.created', runId);
      await createSession(tenant.admin, 'noise');

      const cancelled = await tenant.admin.post<Json>(`/v1/runs/${runId}/cancel`, { reason: 'streamed' });
      expect(cancelled.status).toBe(200);
      const final = await expectEventually(async () => {
        const run = await tenant.admin.get<Json>(`/v1/runs/${runId}`);
        expect(TERMINAL).toContain(run.body.status);
        return run.body.status as string;
      });
      // The stream ends after the terminal change; the EventSource reconnects, gets 204 and stops.
      await expectEventually(() => {
        expect(stream.readyState).toBe(stream.CLOSED);
        expect(stream.errorCodes).toContain(204);
      });
      const events = stream.received;
      expect(events[0]).toMatchObject({ type: 'run.created' });
      expect(events.every((e) => envelopeOf(e).run_id === runId)).toBe(true);
      const last = events[events.length - 1];
      expect(last.type).toBe('run.status_changed');
      expect(envelopeOf(last).data).toMatchObject({ to: final });
      const ids = events.map((e) => e.id);
      expect(new Set(ids).size).toBe(ids.length);

      const auth = { authorization: `Bearer ${tenant.adminKey}` };
      // After the end: 204, by header and by query parameter.
      expect((await fetch(runUrl(runId), { headers: { ...auth, 'last-event-id': last.id } })).status).toBe(204);
      expect((await fetch(runUrl(runId, `?last_event_id=${last.id}`), { headers: auth })).status).toBe(204);
      // From the middle: the rest, then the end of the body.
      const rest = await readRaw(runUrl(runId), { ...auth, 'last-event-id': ids[0] });
      expect(rest.status).toBe(200);
      expect(rest.ended).toBe(true);
      expect(parseFrames(rest.text).map((f) => f.id)).toEqual(ids.slice(1));
      // Without a cursor: all of it again, and the end.
      const all = await readRaw(runUrl(runId), auth);
      expect(all.ended).toBe(true);
      expect(parseFrames(all.text).map((f) => f.id)).toEqual(ids);
    });

    it('filters by session and by run', async () => {
      const tenant = await createTenant('filters');
      const [a, b] = [await createSession(tenant.admin, 'a'), await createSession(tenant.admin, 'b')];
      const runA = await createRun(tenant.admin, a);
      const bySession = source(eventsUrl(`?session_id=${a}`), tenant.adminKey);
      const byRun = source(eventsUrl(`?run_id=${runA}`), tenant.adminKey);
      await Promise.all([bySession.opened(), byRun.opened()]);

      await appendMessage(tenant.admin, b, 'in b');
      const inA = await appendMessage(tenant.admin, a, 'in a');
      await tenant.admin.post(`/v1/runs/${runA}/cancel`, {});
      await createRun(tenant.admin, b);
      const lastInA = await appendMessage(tenant.admin, a, 'last in a');

      await receivedFor(bySession, 'message.appended', lastInA);
      expect(bySession.received.every((e) => envelopeOf(e).session_id === a)).toBe(true);
      expect(bySession.received.map((e) => e.type)).toEqual(expect.arrayContaining(['message.appended', 'run.status_changed']));
      expect(bySession.received.some((e) => dataIdOf(e) === inA)).toBe(true);
      await expectEventually(() => expect(byRun.received.some((e) => e.type === 'run.status_changed')).toBe(true));
      expect(byRun.received.every((e) => envelopeOf(e).run_id === runA)).toBe(true);
    });

    it('refuses bad requests with problem+json before streaming', async () => {
      const tenant = await createTenant('errors');
      const other = await createTenant('errors-other');
      const foreignSession = await createSession(other.admin);
      const foreignRun = await createRun(other.admin, foreignSession);
      const admin = tenant.admin;

      expectProblem(await admin.get(`/v1/events/stream?session_id=${foreignSession}`), 404, 'not_found');
      expectProblem(await admin.get(`/v1/events/stream?run_id=${foreignRun}`), 404, 'not_found');
      expectProblem(await admin.get(`/v1/runs/${foreignRun}/stream`), 404, 'not_found');
      expectProblem(await admin.get(`/v1/runs/${uuidv7()}/stream`), 404, 'not_found');
      expectProblem(await admin.get('/v1/runs/not-a-uuid/stream'), 404, 'not_found');
      expectProblem(await admin.get('/v1/events/stream?session_id=not-a-uuid'), 400, 'validation_failed');
      expectProblem(await admin.get('/v1/events/stream?colour=red'), 400, 'validation_failed');
      for (const cursor of ['garbage', '123', 'abcdefabcdef-', 'abcdefabcdef-x', 'ABCDEFABCDEF-1']) {
        expectProblem(await admin.get('/v1/events/stream', { 'last-event-id': cursor }), 400, 'invalid_cursor');
        expectProblem(await admin.get(`/v1/events/stream?last_event_id=${cursor}`), 400, 'invalid_cursor');
      }
      const ownRun = await createRun(admin, await createSession(admin));
      expectProblem(await admin.get(`/v1/runs/${ownRun}/stream`, { 'last-event-id': 'nope' }), 400, 'invalid_cursor');
      // The header wins over the query parameter.
      expectProblem(await admin.get('/v1/events/stream?last_event_id=abcdefabcdef-1', { 'last-event-id': 'nope' }), 400, 'invalid_cursor');
      expectProblem(await anonymous.get('/v1/events/stream'), 401, 'unauthenticated');
      expectProblem(await system.get('/v1/events/stream'), 403, 'forbidden');
    });

    it('answers 429 rate_limited with Retry-After past the per-principal stream limit, and frees a slot when a stream ends', async () => {
      const tenant = await createTenant('stream-limit');
      const auth = { authorization: `Bearer ${tenant.adminKey}` };
      const open: AbortController[] = [];
      const openStream = async (): Promise<number> => {
        const abort = new AbortController();
        open.push(abort);
        return (await fetch(eventsUrl(), { headers: auth, signal: abort.signal })).status;
      };
      try {
        for (let i = 0; i < STREAM_SUITE_SETTINGS.streamMaxPerPrincipal; i++) expect(await openStream()).toBe(200);

        const refused = await tenant.admin.get('/v1/events/stream');
        expectProblem(refused, 429, 'rate_limited');
        expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
        expectProblem(await tenant.admin.get(`/v1/runs/${uuidv7()}/stream`), 429, 'rate_limited');
        // Another principal of the same tenant has its own limit.
        const member = await createMember(tenant);
        expect((await readRaw(eventsUrl(), { authorization: `Bearer ${member.key}` }, (text) => text.includes('event: ready'))).status).toBe(200);

        open[0].abort();
        await expectEventually(async () => expect(await openStream()).toBe(200));
      } finally {
        for (const abort of open) abort.abort();
      }
    });

    it('ends open streams when the gateway shuts down', async () => {
      const tenant = await createTenant('shutdown');
      // Both streams are open (headers and first frame in) before the gateway goes down.
      const response = await fetch(eventsUrl(), { headers: { authorization: `Bearer ${tenant.adminKey}` } });
      expect(response.status).toBe(200);
      const reader = (response.body as ReadableStream<Uint8Array>).getReader();
      expect((await reader.read()).done).toBe(false);
      const es = source(eventsUrl(), tenant.adminKey);
      await es.opened();
      closed = true;
      await runyard.close();
      let ended = false;
      while (!ended) ended = (await reader.read()).done;
      expect(ended).toBe(true);
      es.close();
    });
  });
}
