import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { expectEventually } from '@runyard/testing';
import { v7 as uuidv7 } from 'uuid';
import { ApiClient, type ApiResponse } from './http-client.js';

/**
 * Transcript segments over HTTP, in every run mode: create and list per session and per run, get by
 * id, retention metadata, scoping (foreign, members', malformed ids → 404), limits, Idempotency-Key,
 * the audit trail, and the execution summary the echo executor writes as its run ends. The booted
 * instance must run a worker with the built-in executors.
 */
export interface BootedSegmentsRunyard {
  url: string;
  systemKey: string;
  close(): Promise<void>;
}

type Json = Record<string, unknown>;
interface Segment {
  id: string;
  tenant_id: string;
  kind: string;
  session_id: string | null;
  run_id: string | null;
  content: string;
  metadata: Json;
  retention_class: string;
  expires_at: string | null;
  created_by: string | null;
  created_at: string;
}
interface SegmentPage {
  data: Segment[];
  next_cursor: string | null;
}

const DAY_MS = 24 * 60 * 60 * 1000;

function expectProblem(response: ApiResponse, status: number, code: string): void {
  expect({ status: response.status, code: (response.body as Json).code }).toEqual({ status, code });
  expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
}

export function describeTranscriptSegmentsApi(mode: string, boot: () => Promise<BootedSegmentsRunyard>): void {
  describe(`transcript segments over HTTP (${mode})`, () => {
    let runyard: BootedSegmentsRunyard;
    let anonymous: ApiClient;
    let admin: ApiClient;
    let adminId: string;
    let other: ApiClient;
    let member: ApiClient;

    async function createTenant(name: string): Promise<{ client: ApiClient; principalId: string }> {
      const response = await anonymous.as(runyard.systemKey).post<{ api_key: Json }>('/v1/tenants', { name });
      expect(response.status).toBe(201);
      const client = anonymous.as(response.body.api_key.key as string);
      const me = await client.get<Json>('/v1/me');
      return { client, principalId: (me.body.principal as Json | undefined)?.id as string };
    }

    async function newSession(client: ApiClient = admin): Promise<string> {
      const response = await client.post<Json>('/v1/sessions', { title: 'transcripts' });
      expect(response.status).toBe(201);
      return response.body.id as string;
    }

    /** A run no worker takes (an executor of its own). */
    async function newRun(client: ApiClient = admin, sessionId?: string): Promise<string> {
      const response = await client.post<Json>('/v1/runs', { route: { executor: `x-${uuidv7()}` }, ...(sessionId === undefined ? {} : { session_id: sessionId }) });
      expect(response.status).toBe(201);
      return response.body.id as string;
    }

    async function list(client: ApiClient, path: string, query = ''): Promise<Segment[]> {
      const out: Segment[] = [];
      let cursor: string | null = null;
      do {
        const suffix: string = cursor === null ? '' : `${query ? '&' : ''}cursor=${cursor}`;
        const response: ApiResponse<SegmentPage> = await client.get(`${path}?${query}${suffix}`);
        expect(response.status).toBe(200);
        out.push(...response.body.data);
        cursor = response.body.next_cursor;
      } while (cursor !== null);
      return out;
    }

    const contents = (segments: Segment[]) => segments.map((segment) => segment.content);

    beforeAll(async () => {
      runyard = await boot();
      anonymous = new ApiClient(runyard.url);
      const acme = await createTenant('Acme transcripts');
      admin = acme.client;
      adminId = acme.principalId;
      other = (await createTenant('Globex transcripts')).client;
      const principal = await admin.post<Json>('/v1/principals', { name: 'mia', kind: 'user', role: 'member' });
      const key = await admin.post<Json>('/v1/api-keys', { name: 'mia key', principal_id: principal.body.id });
      member = anonymous.as(key.body.key as string);
    }, 120_000);

    afterAll(async () => {
      await runyard?.close();
    });

    it('creates segments for a session and a run, with retention metadata, and lists (oldest first, by kind, in pages) and gets them', async () => {
      const sessionId = await newSession();
      const runId = await newRun(admin, sessionId);
      const created = await admin.post<Segment>(`/v1/sessions/${sessionId}/transcript-segments`, { kind: 'conversation', content: 'They agreed on Tuesday.', metadata: { turns: 4 } });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ kind: 'conversation', session_id: sessionId, run_id: null, metadata: { turns: 4 }, retention_class: 'transcripts', created_by: adminId });
      expect(Date.parse(created.body.expires_at!) - Date.parse(created.body.created_at)).toBe(90 * DAY_MS);
      const ofRun = await admin.post<Segment>(`/v1/runs/${runId}/transcript-segments`, { kind: 'execution', content: 'Ran the tests.' });
      expect(ofRun.status).toBe(201);
      expect(ofRun.body).toMatchObject({ kind: 'execution', session_id: sessionId, run_id: runId, metadata: {} });
      const summary = await admin.post<Segment>(`/v1/sessions/${sessionId}/transcript-segments`, { kind: 'summary', content: 'All done.', retention_class: 'transcripts' });
      expect(summary.status).toBe(201);

      expect(contents(await list(admin, `/v1/sessions/${sessionId}/transcript-segments`, 'limit=1'))).toEqual(['They agreed on Tuesday.', 'Ran the tests.', 'All done.']);
      expect(contents(await list(admin, `/v1/sessions/${sessionId}/transcript-segments`, 'kind=summary'))).toEqual(['All done.']);
      expect(contents(await list(admin, `/v1/runs/${runId}/transcript-segments`))).toEqual(['Ran the tests.']);
      const got = await admin.get<Segment>(`/v1/transcript-segments/${created.body.id}`);
      expect(got.status).toBe(200);
      expect(got.body).toEqual(created.body);
      expectProblem(await admin.get(`/v1/runs/${runId}/transcript-segments?kind=diary`), 400, 'validation_failed');
      expectProblem(await admin.get(`/v1/runs/${runId}/transcript-segments?cursor=nope`), 400, 'invalid_cursor');
    });

    it('refuses bad segments with clear errors, storing nothing', async () => {
      const runId = await newRun();
      const path = `/v1/runs/${runId}/transcript-segments`;
      for (const body of [
        { kind: 'summary', content: '€'.repeat(100_000) }, // 300,000 bytes
        { kind: 'summary', content: '' },
        { kind: 'summary' },
        { kind: 'diary', content: 'x' },
        { kind: 'summary', content: 'x', metadata: 'text' },
        { kind: 'summary', content: 'x', metadata: { blob: 'y'.repeat(20_000) } },
        { kind: 'summary', content: 'x', retention_class: 'forever' },
        { kind: 'summary', content: 'x', owner_id: uuidv7() },
      ]) {
        expectProblem(await admin.post(path, body), 400, 'validation_failed');
      }
      expect(await list(admin, path)).toEqual([]);
    });

    it('answers 404 for sessions, runs and segments the caller cannot see, on every route; a member has their own', async () => {
      const sessionId = await newSession();
      const runId = await newRun(admin, sessionId);
      const secret = await admin.post<Segment>(`/v1/runs/${runId}/transcript-segments`, { kind: 'execution', content: 'secret' });
      for (const client of [other, member]) {
        expectProblem(await client.post(`/v1/sessions/${sessionId}/transcript-segments`, { kind: 'summary', content: 'x' }), 404, 'not_found');
        expectProblem(await client.post(`/v1/runs/${runId}/transcript-segments`, { kind: 'summary', content: 'x' }), 404, 'not_found');
        expectProblem(await client.get(`/v1/sessions/${sessionId}/transcript-segments`), 404, 'not_found');
        expectProblem(await client.get(`/v1/runs/${runId}/transcript-segments`), 404, 'not_found');
        expectProblem(await client.get(`/v1/transcript-segments/${secret.body.id}`), 404, 'not_found');
      }
      for (const id of [uuidv7(), 'not-a-uuid']) {
        expectProblem(await admin.get(`/v1/transcript-segments/${id}`), 404, 'not_found');
        expectProblem(await admin.get(`/v1/sessions/${id}/transcript-segments`), 404, 'not_found');
        expectProblem(await admin.post(`/v1/runs/${id}/transcript-segments`, { kind: 'summary', content: 'x' }), 404, 'not_found');
      }
      expect(contents(await list(admin, `/v1/runs/${runId}/transcript-segments`))).toEqual(['secret']);
      const own = await newSession(member);
      const mine = await member.post<Segment>(`/v1/sessions/${own}/transcript-segments`, { kind: 'summary', content: 'mine' });
      expect(mine.status).toBe(201);
      expect((await member.get<Segment>(`/v1/transcript-segments/${mine.body.id}`)).body.content).toBe('mine');
      expect(contents(await list(member, `/v1/sessions/${own}/transcript-segments`))).toEqual(['mine']);
    });

    it('honours Idempotency-Key (a retry returns the original, another body is 422) and records the create in the audit trail', async () => {
      const sessionId = await newSession();
      const path = `/v1/sessions/${sessionId}/transcript-segments`;
      const headers = { 'idempotency-key': `segment-${uuidv7()}`, 'x-request-id': `segment-audit-${uuidv7()}` };
      const first = await admin.post<Segment>(path, { kind: 'summary', content: 'once' }, headers);
      const retry = await admin.post<Segment>(path, { kind: 'summary', content: 'once' }, headers);
      expect([first.status, retry.status]).toEqual([201, 201]);
      expect(retry.body).toEqual(first.body);
      expectProblem(await admin.post(path, { kind: 'summary', content: 'twice' }, headers), 422, 'idempotency_key_reused');
      expect(contents(await list(admin, path))).toEqual(['once']);
      await expectEventually(async () => {
        const events = await admin.get<{ data: Json[] }>('/v1/audit-events?action=transcript_segment.create&limit=200');
        const event = events.body.data.find((e) => e.request_id === headers['x-request-id']);
        expect(event).toMatchObject({ actor_id: adminId, action: 'transcript_segment.create', target_type: 'transcript_segment', target_id: first.body.id, outcome: 'success' });
      });
    });

    it('ends an echo run with the execution summary its worker wrote', async () => {
      const sessionId = await newSession();
      const turn = await admin.post<{ run: Json }>(`/v1/sessions/${sessionId}/turns`, { content: 'hello there' });
      expect(turn.status).toBe(201);
      const runId = turn.body.run.id as string;
      await expectEventually(async () => expect((await admin.get<Json>(`/v1/runs/${runId}`)).body.status).toBe('completed'), { timeoutMs: 30_000 });
      const segments = await list(admin, `/v1/runs/${runId}/transcript-segments`);
      expect(segments).toEqual([
        expect.objectContaining({
          kind: 'execution',
          run_id: runId,
          session_id: sessionId,
          content: 'Echoed 11 characters; posted the reply.',
          metadata: { executor: 'echo', characters: 11 },
          retention_class: 'transcripts',
          created_by: null,
        }),
      ]);
      expect((await list(admin, `/v1/sessions/${sessionId}/transcript-segments`, 'kind=execution')).map((segment) => segment.id)).toEqual([segments[0].id]);
    }, 60_000);
  });
}
