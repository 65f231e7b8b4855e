import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { v7 as uuidv7 } from 'uuid';
import { ApiClient, type ApiResponse } from './http-client.js';

/**
 * Run logs over HTTP, in every run mode: JSON and NDJSON batches, filters, limits, scoping, and the
 * live tail resumed by `Last-Event-ID` with nothing lost or repeated, ending once the run's log closes.
 */
export interface BootedLogsRunyard {
  url: string;
  systemKey: string;
  close(): Promise<void>;
}

/** Log settings the booted instance must have: a small per-run limit and a short closing grace. */
export const LOG_SUITE_SETTINGS = { maxLinesPerRun: 300, closeGraceMs: 300, closeSweepIntervalMs: 50 };
/** Gateway settings: quick heartbeats. */
export const LOG_SUITE_GATEWAY = { streamHeartbeatMs: 100, streamRetryMs: 20 };

type Json = Record<string, unknown>;
interface Line {
  run_id: string;
  seq: number;
  stream: string;
  level: string;
  time: string;
  text: string;
  truncated: boolean;
}
interface SseEvent {
  id?: string;
  event: string;
  data: string;
}

function expectProblem(response: ApiResponse, status: number, code: string): void {
  expect({ status: response.status, code: (response.body as Json).code }).toEqual({ status, code });
  expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
}

/** A minimal SSE client: the response's events as they arrive, and a way to drop the connection. */
class SseConnection {
  readonly events: SseEvent[] = [];
  ended = false;
  private waiters: (() => void)[] = [];
  private constructor(
    readonly status: number,
    private readonly abort: AbortController,
  ) {}

  static async open(url: string, key: string, lastEventId?: string): Promise<SseConnection> {
    const abort = new AbortController();
    const headers: Record<string, string> = { authorization: `Bearer ${key}`, accept: 'text/event-stream' };
    if (lastEventId !== undefined) headers['last-event-id'] = lastEventId;
    const response = await fetch(url, { headers, signal: abort.signal });
    const connection = new SseConnection(response.status, abort);
    if (response.status !== 200 || response.body === null) {
      connection.ended = true;
      await response.body?.cancel();
      return connection;
    }
    void connection.read(response.body);
    return connection;
  }

  private async read(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of body) {
        buffer += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) !== -1) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event: SseEvent = { event: 'message', data: '' };
          const data: string[] = [];
          let hasField = false;
          for (const row of frame.split('\n')) {
            if (row.startsWith(':')) continue;
            const colon = row.indexOf(':');
            const field = colon === -1 ? row : row.slice(0, colon);
            const value = colon === -1 ? '' : row.slice(colon + 1).replace(/^ /, '');
            if (field === 'id') event.id = value;
            else if (field === 'event') event.event = value;
            else if (field === 'data') data.push(value);
            else continue;
            hasField = true;
          }
          if (!hasField || data.length === 0) continue;
          event.data = data.join('\n');
          this.events.push(event);
        }
        this.notify();
      }
    } catch {
      // Aborted by the test.
    }
    this.ended = true;
    this.notify();
  }

  private notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  lines(): Line[] {
    return this.events.filter((event) => event.event === 'log.line').map((event) => JSON.parse(event.data) as Line);
  }

  /** Resolves once `done` holds (checked on every chunk), or fails after `timeoutMs`. */
  async until(done: (connection: SseConnection) => boolean, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done(this)) {
      if (this.ended) throw new Error(`stream ended before the condition held (${this.events.length} events)`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out with ${this.events.length} events`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  drop(): void {
    this.abort.abort();
  }
}

export function describeLogsApi(mode: string, boot: () => Promise<BootedLogsRunyard>): void {
  describe(`run logs over HTTP (${mode})`, () => {
    let runyard: BootedLogsRunyard;
    let anonymous: ApiClient;
    let admin: ApiClient;
    let adminKey: string;
    let other: ApiClient;
    let member: ApiClient;

    async function createTenant(name: string): Promise<{ client: ApiClient; key: string }> {
      const response = await anonymous.as(runyard.systemKey).post<{ api_key: Json }>('/v1/tenants', { name });
      expect(response.status).toBe(201);
      const key = response.body.api_key.key as string;
      return { client: anonymous.as(key), key };
    }

    async function newRun(client: ApiClient = admin): Promise<string> {
      const response = await client.post<Json>('/v1/runs', { route: { executor: `x-${uuidv7()}` } });
      expect(response.status).toBe(201);
      return response.body.id as string;
    }

    function post(client: ApiClient, runId: string, lines: Json[], extra: Json = {}) {
      return client.post<Json>(`/v1/runs/${runId}/logs`, { lines, ...extra });
    }

    async function list(client: ApiClient, runId: string, query = ''): Promise<Line[]> {
      const out: Line[] = [];
      let cursor: string | null = null;
      do {
        const suffix: string = cursor === null ? '' : `${query ? '&' : ''}cursor=${cursor}`;
        const response: ApiResponse<{ data: Line[]; next_cursor: string | null }> = await client.get(`/v1/runs/${runId}/logs?${query}${suffix}`);
        expect(response.status).toBe(200);
        out.push(...response.body.data);
        cursor = response.body.next_cursor;
      } while (cursor !== null);
      return out;
    }

    const texts = (lines: Line[]) => lines.map((line) => line.text);
    const numbered = (prefix: string, from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => ({ stream: 'stdout', text: `${prefix}${from + i}` }));

    beforeAll(async () => {
      runyard = await boot();
      anonymous = new ApiClient(runyard.url);
      const acme = await createTenant('Acme logs');
      admin = acme.client;
      adminKey = acme.key;
      other = (await createTenant('Globex logs')).client;
      const principal = await admin.post<Json>('/v1/principals', { name: 'mia', kind: 'user', role: 'member' });
      const key = await admin.post<Json>('/v1/api-keys', { name: 'mia key', principal_id: principal.body.id });
      member = anonymous.as(key.body.key as string);
    });

    afterAll(async () => {
      await runyard?.close();
    });

    it('appends a JSON batch and an NDJSON batch, numbered in order, and lists them with filters and pages', async () => {
      const runId = await newRun();
      const first = await post(admin, runId, [
        { stream: 'stdout', text: 'one', time: '2030-01-01T00:00:01.000Z' },
        { stream: 'stderr', level: 'error', text: 'two', time: '2030-01-01T00:00:02.000Z' },
      ]);
      expect(first.status).toBe(200);
      expect(first.body).toEqual({ first_seq: 1, last_seq: 2, accepted: 2, truncated: 0, refused: 0, limit_reached: false });
      const ndjson = [
        JSON.stringify({ stream: 'agent', text: 'three', time: '2030-01-01T00:00:03.000Z' }),
        '',
        JSON.stringify({ stream: 'stdout', level: 'warn', text: 'four', time: '2030-01-01T00:00:04.000Z' }),
      ].join('\n');
      const second = await admin.request<Json>('POST', `/v1/runs/${runId}/logs`, { rawBody: `${ndjson}\n`, headers: { 'content-type': 'application/x-ndjson' } });
      expect(second.status).toBe(200);
      expect(second.body).toMatchObject({ first_seq: 3, last_seq: 4, accepted: 2 });
      const all = await list(admin, runId, 'limit=1');
      expect(all.map((line) => [line.seq, line.stream, line.level, line.text])).toEqual([
        [1, 'stdout', 'info', 'one'],
        [2, 'stderr', 'error', 'two'],
        [3, 'agent', 'info', 'three'],
        [4, 'stdout', 'warn', 'four'],
      ]);
      expect(texts(await list(admin, runId, 'stream=stdout'))).toEqual(['one', 'four']);
      expect(texts(await list(admin, runId, 'after_seq=2'))).toEqual(['three', 'four']);
      expect(texts(await list(admin, runId, 'since=2030-01-01T00:00:02.000Z&until=2030-01-01T00:00:04.000Z'))).toEqual(['two', 'three']);
      expectProblem(await admin.get(`/v1/runs/${runId}/logs?stream=nope`), 400, 'validation_failed');
      expectProblem(await admin.get(`/v1/runs/${runId}/logs?cursor=abc`), 400, 'invalid_cursor');
    });

    it('refuses malformed NDJSON (400), NDJSON on other routes (415), and bad batches with clear errors, storing nothing', async () => {
      const runId = await newRun();
      const bad = await admin.request<Json>('POST', `/v1/runs/${runId}/logs`, { rawBody: '{"stream":"stdout","text":"ok"}\n{not json', headers: { 'content-type': 'application/x-ndjson' } });
      expectProblem(bad, 400, 'validation_failed');
      const elsewhere = await admin.request<Json>('POST', '/v1/sessions', { rawBody: '{}', headers: { 'content-type': 'application/x-ndjson' } });
      expectProblem(elsewhere, 415, 'unsupported_media_type');
      expectProblem(await post(admin, runId, []), 400, 'validation_failed');
      expectProblem(await post(admin, runId, [{ stream: 'nowhere', text: 'x' }]), 400, 'validation_failed');
      expectProblem(await post(admin, runId, numbered('x', 1, 1001)), 400, 'validation_failed');
      expect(await list(admin, runId)).toEqual([]);
    });

    it('truncates a long line with a marker, and ends a full log with a system line, then refuses more (413)', async () => {
      const runId = await newRun();
      const long = await post(admin, runId, [{ stream: 'stdout', text: 'x'.repeat(20_000) }]);
      expect(long.body).toMatchObject({ accepted: 1, truncated: 1 });
      const [cut] = await list(admin, runId);
      expect(cut.truncated).toBe(true);
      expect(cut.text).toMatch(/…\[truncated: [0-9]+ bytes\]$/);
      const full = await post(admin, runId, numbered('l', 2, 400));
      expect(full.status).toBe(200);
      expect(full.body).toMatchObject({ first_seq: 2, last_seq: LOG_SUITE_SETTINGS.maxLinesPerRun, limit_reached: true, refused: 399 - (LOG_SUITE_SETTINGS.maxLinesPerRun - 2) });
      const stored = await list(admin, runId);
      expect(stored).toHaveLength(LOG_SUITE_SETTINGS.maxLinesPerRun);
      expect(stored.at(-1)).toMatchObject({ stream: 'system', text: 'log truncated: limit reached' });
      expectProblem(await post(admin, runId, numbered('late', 1, 1)), 413, 'payload_too_large');
    });

    it('answers 404 for a run the caller cannot see, on every log route', async () => {
      const runId = await newRun();
      await post(admin, runId, numbered('secret', 1, 2));
      for (const client of [other, member]) {
        expectProblem(await post(client, runId, numbered('x', 1, 1)), 404, 'not_found');
        expectProblem(await client.get(`/v1/runs/${runId}/logs`), 404, 'not_found');
        expectProblem(await client.get(`/v1/runs/${runId}/logs/stream`), 404, 'not_found');
      }
      expectProblem(await admin.get(`/v1/runs/${uuidv7()}/logs`), 404, 'not_found');
      expect(await list(admin, runId)).toHaveLength(2);
      // A member's own run is theirs to log and read.
      const own = await newRun(member);
      expect((await post(member, own, numbered('m', 1, 1))).status).toBe(200);
      expect(texts(await list(member, own))).toEqual(['m1']);
    });

    it('tails the log live, resumes after a dropped connection by Last-Event-ID with nothing lost or repeated, and ends when the run’s log closes', async () => {
      const runId = await newRun();
      const url = `${runyard.url}/v1/runs/${runId}/logs/stream`;
      await post(admin, runId, numbered('line ', 1, 5));
      const first = await SseConnection.open(url, adminKey);
      expect(first.status).toBe(200);
      await first.until((c) => c.lines().length >= 5);
      await post(admin, runId, numbered('line ', 6, 8));
      await first.until((c) => c.lines().length >= 8);
      first.drop();
      const lastId = first.events.filter((event) => event.event === 'log.line').at(-1)!.id!;
      expect(lastId).toBe('8');
      // Lines stored while nobody listens are not lost.
      await post(admin, runId, numbered('line ', 9, 12));
      const second = await SseConnection.open(url, adminKey, lastId);
      expect(second.status).toBe(200);
      await second.until((c) => c.lines().length >= 4);
      await post(admin, runId, numbered('line ', 13, 15));
      expect((await admin.post(`/v1/runs/${runId}/cancel`, {})).status).toBe(200);
      await second.until((c) => c.ended, 15_000);
      const received = [...first.lines(), ...second.lines()];
      expect(received.map((line) => line.seq)).toEqual(Array.from({ length: 15 }, (_, i) => i + 1));
      expect(texts(received)).toEqual(numbered('line ', 1, 15).map((line) => line.text));
      expect(second.events.at(-1)).toEqual({ event: 'log.closed', data: JSON.stringify({ run_id: runId, last_seq: 15 }) });
      expect(second.events.filter((event) => event.event === 'log.line').map((event) => event.id)).toEqual(['9', '10', '11', '12', '13', '14', '15']);
      // The client has everything: reconnecting says so (an EventSource stops on 204); new lines are refused.
      const third = await SseConnection.open(url, adminKey, '15');
      expect(third.status).toBe(204);
      expectProblem(await post(admin, runId, numbered('late', 1, 1)), 409, 'run_terminal');
      // From the start, a closed log replays every line then ends.
      const replay = await SseConnection.open(url, adminKey);
      await replay.until((c) => c.ended);
      expect(replay.lines().map((line) => line.seq)).toEqual(Array.from({ length: 15 }, (_, i) => i + 1));
      expectProblem(await admin.get(`/v1/runs/${runId}/logs/stream`, { 'last-event-id': 'nope' }), 400, 'invalid_cursor');
    });
  });
}
