import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { expectEventually } from '@runyard/testing';
import { v7 as uuidv7 } from 'uuid';
import { ApiClient, type ApiResponse } from './http-client.js';

/**
 * The HTTP-level suite every run mode must pass (standalone: PGlite + in-process bus; distributed:
 * PostgreSQL + NATS + Redis with two replicas each of sessions and runs). It talks only HTTP, as a user would.
 */
export interface BootedRunyard {
  url: string;
  systemKey: string;
  close(): Promise<void>;
}

/** Rate limit the booted gateway must be configured with, so the 429 test is deterministic. */
export const SUITE_RATE_LIMIT = { rateLimitPoints: 400, rateLimitDurationSeconds: 60 };
/** Body limit the booted gateway must be configured with. */
export const SUITE_BODY_LIMIT_BYTES = 256 * 1024;

type Json = Record<string, unknown>;
interface Tenant {
  admin: ApiClient;
  adminId: string;
  tenantId: string;
}
interface SessionBody extends Json {
  id: string;
  owner_id: string;
  tenant_id: string;
  status: string;
  parent_session_id: string | null;
  message_count: number;
}
interface PageBody<T> {
  data: T[];
  next_cursor: string | null;
}
interface RunBody extends Json {
  id: string;
  tenant_id: string;
  owner_id: string;
  session_id: string | null;
  status: string;
  queue_position: number | null;
  route: Json;
  route_source: string;
}

function expectProblem(response: ApiResponse, status: number, code: string): void {
  expect({ status: response.status, code: (response.body as Json).code }).toEqual({ status, code });
  expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  const body = response.body as Json;
  expect(typeof body.title).toBe('string');
  expect(body.status).toBe(status);
}

export function describeHttpApi(mode: string, boot: () => Promise<BootedRunyard>): void {
  describe(`HTTP API (${mode})`, () => {
    let runyard: BootedRunyard;
    let anonymous: ApiClient;
    let system: ApiClient;
    let acme: Tenant;
    let globex: Tenant;

    async function createTenant(name: string): Promise<Tenant> {
      const response = await system.post<{ tenant: Json; principal: Json; api_key: Json }>('/v1/tenants', { name });
      expect(response.status).toBe(201);
      const key = response.body.api_key.key as string;
      expect(key).toMatch(/^ryk_/);
      return { admin: anonymous.as(key), adminId: response.body.principal.id as string, tenantId: response.body.tenant.id as string };
    }

    async function createPrincipalWithKey(tenant: Tenant, role: 'admin' | 'member', name: string): Promise<{ client: ApiClient; id: string; keyId: string }> {
      const principal = await tenant.admin.post<Json>('/v1/principals', { name, kind: 'user', role });
      expect(principal.status).toBe(201);
      const key = await tenant.admin.post<Json>('/v1/api-keys', { name: `${name} laptop`, principal_id: principal.body.id });
      expect(key.status).toBe(201);
      return { client: anonymous.as(key.body.key as string), id: principal.body.id as string, keyId: key.body.id as string };
    }

    async function createSession(client: ApiClient, body: Json = {}): Promise<SessionBody> {
      const response = await client.post<SessionBody>('/v1/sessions', body);
      expect(response.status).toBe(201);
      return response.body;
    }

    beforeAll(async () => {
      runyard = await boot();
      anonymous = new ApiClient(runyard.url);
      system = anonymous.as(runyard.systemKey);
      acme = await createTenant('Acme');
      globex = await createTenant('Globex');
    });

    afterAll(async () => {
      await runyard?.close();
    });

    describe('the edge', () => {
      it('serves liveness, readiness and the OpenAPI document without auth', async () => {
        expect((await anonymous.get('/healthz')).status).toBe(200);
        const ready = await anonymous.get<Json>('/readyz');
        expect(ready.status).toBe(200);
        expect(ready.body.status).toBe('ready');
        const openapi = await anonymous.get<{ openapi: string; paths: Json }>('/v1/openapi.json');
        expect(openapi.status).toBe(200);
        expect(openapi.body.openapi).toMatch(/^3\./);
        for (const path of ['/v1/sessions', '/v1/sessions/{id}/messages', '/v1/tenants', '/v1/api-keys', '/v1/me', '/v1/audit-events']) {
          expect(Object.keys(openapi.body.paths)).toContain(path);
        }
        expect((await anonymous.get('/docs')).status).toBe(200);
      });

      it('refuses missing and wrong keys with 401 problem+json', async () => {
        const missing = await anonymous.get('/v1/sessions');
        expectProblem(missing, 401, 'unauthenticated');
        expect(missing.headers.get('www-authenticate')).toMatch(/^Bearer/);
        expectProblem(await anonymous.as('ryk_notarealkey_0000000000000000000000000000000000000000000').get('/v1/me'), 401, 'unauthenticated');
        expectProblem(await anonymous.as('garbage').get('/v1/me'), 401, 'unauthenticated');
      });

      it('puts a request id on every response and honours a given one', async () => {
        const generated = await acme.admin.get('/v1/me');
        expect(generated.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
        const given = await acme.admin.get('/v1/me', { 'x-request-id': 'trace-me-123' });
        expect(given.headers.get('x-request-id')).toBe('trace-me-123');
      });

      it('answers unknown routes with a problem', async () => {
        expectProblem(await acme.admin.get('/v1/nothing-here'), 404, 'route_not_found');
      });

      it('refuses unknown fields, bad values, malformed JSON and oversized bodies, changing nothing', async () => {
        const before = await acme.admin.get<PageBody<SessionBody>>('/v1/sessions?limit=200');
        const unknown = await acme.admin.post<{ errors: { field: string }[] }>('/v1/sessions', { title: 'x', colour: 'red' });
        expectProblem(unknown, 400, 'validation_failed');
        expect(unknown.body.errors.map((e) => e.field)).toContain('colour');
        const nested = await acme.admin.post<{ errors: { field: string }[] }>('/v1/sessions', { reply_targets: [{ channel: '' }] });
        expectProblem(nested, 400, 'validation_failed');
        expect(nested.body.errors.map((e) => e.field).join(' ')).toMatch(/reply_targets\.0\.(channel|address)/);
        expectProblem(await acme.admin.request('POST', '/v1/sessions', { rawBody: '{"title": ' }), 400, 'validation_failed');
        expectProblem(await acme.admin.post('/v1/sessions', { title: 'x'.repeat(SUITE_BODY_LIMIT_BYTES + 10) }), 413, 'payload_too_large');
        for (const body of [{ metadata: null }, { reply_targets: null }, { route_policy: null }, { route_policy: [] }]) {
          expectProblem(await acme.admin.post('/v1/sessions', body), 400, 'validation_failed');
        }
        expectProblem(await acme.admin.get('/v1/sessions?limit=0'), 400, 'validation_failed');
        expectProblem(await acme.admin.get('/v1/sessions?status=sleeping'), 400, 'validation_failed');
        expectProblem(await acme.admin.get('/v1/sessions?cursor=not-a-cursor'), 400, 'invalid_cursor');
        const after = await acme.admin.get<PageBody<SessionBody>>('/v1/sessions?limit=200');
        expect(after.body.data.length).toBe(before.body.data.length);
      });
    });

    describe('identity and tenancy', () => {
      it('tells a key who it is', async () => {
        const me = await acme.admin.get<{ principal: Json; tenant: Json; role: string; api_key: Json }>('/v1/me');
        expect(me.status).toBe(200);
        expect(me.body.role).toBe('admin');
        expect(me.body.principal.id).toBe(acme.adminId);
        expect(me.body.tenant.id).toBe(acme.tenantId);
        expect(me.body.api_key.prefix).toMatch(/^ryk_/);
        expect(JSON.stringify(me.body)).not.toContain(acme.admin.key!);
      });

      it('lets only the system key create tenants', async () => {
        expectProblem(await acme.admin.post('/v1/tenants', { name: 'Nope' }), 403, 'forbidden');
        expectProblem(await system.post('/v1/sessions', {}), 403, 'forbidden');
      });

      it('lets admins manage principals and keys; members only their own keys', async () => {
        const member = await createPrincipalWithKey(acme, 'member', 'Mia');
        expectProblem(await member.client.post('/v1/principals', { name: 'x', kind: 'user', role: 'admin' }), 403, 'forbidden');
        expectProblem(await member.client.get('/v1/principals'), 403, 'forbidden');
        expectProblem(await member.client.post('/v1/api-keys', { name: 'steal', principal_id: acme.adminId }), 404, 'not_found');
        const own = await member.client.post<Json>('/v1/api-keys', { name: 'second' });
        expect(own.status).toBe(201);
        const keys = await member.client.get<PageBody<Json>>('/v1/api-keys');
        expect(keys.body.data.every((k) => k.principal_id === member.id)).toBe(true);
        expect(JSON.stringify(keys.body)).not.toMatch(/key_hash|"key":/);
        const principals = await acme.admin.get<PageBody<Json>>('/v1/principals');
        expect(principals.body.data.map((p) => p.id)).toContain(member.id);
      });

      it('revokes a key: it stops working at once, and revoking again is harmless', async () => {
        const member = await createPrincipalWithKey(acme, 'member', 'Rex');
        expect((await member.client.get('/v1/me')).status).toBe(200);
        const revoked = await acme.admin.delete<Json>(`/v1/api-keys/${member.keyId}`);
        expect(revoked.status).toBe(200);
        expect(revoked.body.revoked_at).toEqual(expect.any(String));
        expectProblem(await member.client.get('/v1/me'), 401, 'unauthenticated');
        expect((await acme.admin.delete(`/v1/api-keys/${member.keyId}`)).status).toBe(200);
      });

      it('answers 404 for another tenant’s keys and principals', async () => {
        const member = await createPrincipalWithKey(acme, 'member', 'Ola');
        expectProblem(await globex.admin.delete(`/v1/api-keys/${member.keyId}`), 404, 'not_found');
        expectProblem(await globex.admin.post('/v1/api-keys', { name: 'x', principal_id: member.id }), 404, 'not_found');
        const list = await globex.admin.get<PageBody<Json>>('/v1/principals');
        expect(list.body.data.map((p) => p.id)).not.toContain(member.id);
        expect((await member.client.get('/v1/me')).status).toBe(200);
      });
    });

    describe('sessions', () => {
      it('creates, reads, updates and archives a session', async () => {
        const created = await createSession(acme.admin, {
          title: 'Quarterly report',
          metadata: { customer: 'c-42' },
          route_policy: { provider: 'anthropic', model: 'claude-sonnet-4' },
          reply_targets: [{ channel: 'slack', address: 'C01/123.456' }],
        });
        expect(created).toMatchObject({
          tenant_id: acme.tenantId,
          owner_id: acme.adminId,
          title: 'Quarterly report',
          status: 'active',
          parent_session_id: null,
          metadata: { customer: 'c-42' },
          route_policy: { provider: 'anthropic', model: 'claude-sonnet-4' },
          reply_targets: [{ channel: 'slack', address: 'C01/123.456' }],
          message_count: 0,
          archived_at: null,
        });
        expect(created.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-/);
        expect(new Date(created.created_at as string).toISOString()).toBe(created.created_at);

        const fetched = await acme.admin.get<SessionBody>(`/v1/sessions/${created.id}`);
        expect(fetched.body).toEqual(created);

        const updated = await acme.admin.patch<SessionBody>(`/v1/sessions/${created.id}`, { title: 'Q3 report', route_policy: null });
        expect(updated.status).toBe(200);
        expect(updated.body).toMatchObject({ title: 'Q3 report', route_policy: null, metadata: { customer: 'c-42' } });

        const archived = await acme.admin.post<SessionBody>(`/v1/sessions/${created.id}/archive`);
        expect(archived.status).toBe(200);
        expect(archived.body.status).toBe('archived');
        expect(archived.body.archived_at).toEqual(expect.any(String));
        expect((await acme.admin.post<SessionBody>(`/v1/sessions/${created.id}/archive`)).body.archived_at).toBe(archived.body.archived_at);
        expectProblem(await acme.admin.post(`/v1/sessions/${created.id}/messages`, { role: 'user', content: 'hello?' }), 409, 'session_archived');
        expectProblem(await acme.admin.patch(`/v1/sessions/${created.id}`, { title: 'again' }), 409, 'session_archived');
        const other = await createSession(acme.admin, { title: 'nulls' });
        for (const body of [{ metadata: null }, { reply_targets: null }]) {
          expectProblem(await acme.admin.patch(`/v1/sessions/${other.id}`, body), 400, 'validation_failed');
        }
        expectProblem(await acme.admin.post(`/v1/sessions/${other.id}/messages`, { role: 'user', content: 'x', metadata: null }), 400, 'validation_failed');
      });

      it('keeps raw chat in order with a per-session seq', async () => {
        const session = await createSession(acme.admin, { title: 'chat' });
        const first = await acme.admin.post<Json>(`/v1/sessions/${session.id}/messages`, { role: 'user', content: 'Summarise the report' });
        expect(first.status).toBe(201);
        expect(first.body).toMatchObject({ seq: 1, role: 'user', content: 'Summarise the report', input_items: [{ type: 'text', text: 'Summarise the report' }] });
        const second = await acme.admin.post<Json>(`/v1/sessions/${session.id}/messages`, {
          role: 'user',
          input_items: [
            { type: 'text', text: 'and this file' },
            { type: 'file', file_id: 'file_123', name: 'q3.pdf', mime_type: 'application/pdf' },
          ],
        });
        expect(second.body).toMatchObject({ seq: 2, content: 'and this file' });
        await Promise.all(
          Array.from({ length: 8 }, (_, i) => acme.admin.post(`/v1/sessions/${session.id}/messages`, { role: i % 2 ? 'assistant' : 'tool', content: `m${i}` })),
        );
        const all = await acme.admin.get<PageBody<Json>>(`/v1/sessions/${session.id}/messages?limit=200`);
        expect(all.body.data.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        const after = await acme.admin.get<PageBody<Json>>(`/v1/sessions/${session.id}/messages?after_seq=8`);
        expect(after.body.data.map((m) => m.seq)).toEqual([9, 10]);
        expect((await acme.admin.get<SessionBody>(`/v1/sessions/${session.id}`)).body.message_count).toBe(10);
        const badRole = await acme.admin.post(`/v1/sessions/${session.id}/messages`, { role: 'robot', content: 'x' });
        expectProblem(badRole, 400, 'validation_failed');
        expectProblem(await acme.admin.post(`/v1/sessions/${session.id}/messages`, { role: 'user' }), 400, 'validation_failed');
        const both = await acme.admin.post<{ errors: { field: string }[] }>(`/v1/sessions/${session.id}/messages`, {
          role: 'user',
          content: 'x',
          input_items: [{ type: 'text', text: 'y' }],
        });
        expectProblem(both, 400, 'validation_failed');
        expect(both.body.errors.map((e) => e.field)).toContain('content');
        expect((await acme.admin.get<SessionBody>(`/v1/sessions/${session.id}`)).body.message_count).toBe(10);
      });

      it('lists with filters and cursor pagination, without duplicates or gaps', async () => {
        const parent = await createSession(acme.admin, { title: 'parent' });
        const children: string[] = [];
        for (let i = 0; i < 7; i++) children.push((await createSession(acme.admin, { title: `child ${i}`, parent_session_id: parent.id })).id);
        const seen: string[] = [];
        let cursor: string | null = null;
        do {
          const query: string = `/v1/sessions?parent_session_id=${parent.id}&limit=3${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
          const page: ApiResponse<PageBody<SessionBody>> = await acme.admin.get<PageBody<SessionBody>>(query);
          expect(page.status).toBe(200);
          expect(page.body.data.length).toBeLessThanOrEqual(3);
          seen.push(...page.body.data.map((s) => s.id));
          cursor = page.body.next_cursor;
        } while (cursor);
        expect(seen).toEqual([...children].reverse());

        await acme.admin.post(`/v1/sessions/${children[0]}/archive`);
        const archived = await acme.admin.get<PageBody<SessionBody>>(`/v1/sessions?parent_session_id=${parent.id}&status=archived`);
        expect(archived.body.data.map((s) => s.id)).toEqual([children[0]]);
        const since = new Date(Date.now() + 60_000).toISOString();
        expect((await acme.admin.get<PageBody<SessionBody>>(`/v1/sessions?created_after=${since}`)).body.data).toEqual([]);
        const before = await acme.admin.get<PageBody<SessionBody>>(`/v1/sessions?parent_session_id=${parent.id}&created_before=${since}`);
        expect(before.body.data).toHaveLength(7);
      });

      it('gives a sub-session its parent’s owner', async () => {
        const member = await createPrincipalWithKey(acme, 'member', 'Sub');
        const parent = await createSession(member.client, { title: 'mine' });
        const child = await createSession(acme.admin, { parent_session_id: parent.id });
        expect(child.owner_id).toBe(member.id);
        expect((await member.client.get(`/v1/sessions/${child.id}`)).status).toBe(200);
      });
    });

    describe('isolation', () => {
      it('answers 404 for another tenant’s session on every endpoint and changes nothing', async () => {
        const session = await createSession(acme.admin, { title: 'acme only' });
        const attempts: ApiResponse[] = [
          await globex.admin.get(`/v1/sessions/${session.id}`),
          await globex.admin.patch(`/v1/sessions/${session.id}`, { title: 'pwned' }),
          await globex.admin.post(`/v1/sessions/${session.id}/archive`),
          await globex.admin.post(`/v1/sessions/${session.id}/messages`, { role: 'user', content: 'hi' }),
          await globex.admin.get(`/v1/sessions/${session.id}/messages`),
          await globex.admin.post('/v1/sessions', { parent_session_id: session.id }),
        ];
        for (const attempt of attempts) expectProblem(attempt, 404, 'not_found');
        const list = await globex.admin.get<PageBody<SessionBody>>('/v1/sessions?limit=200');
        expect(list.body.data.map((s) => s.id)).not.toContain(session.id);
        const unchanged = await acme.admin.get<SessionBody>(`/v1/sessions/${session.id}`);
        expect(unchanged.body).toMatchObject({ title: 'acme only', status: 'active', message_count: 0 });
      });

      it('shows a member only its own sessions; an admin the whole tenant', async () => {
        const alice = await createPrincipalWithKey(acme, 'member', 'Alice');
        const bob = await createPrincipalWithKey(acme, 'member', 'Bob');
        const alices = await createSession(alice.client, { title: 'alice' });
        const bobs = await createSession(bob.client, { title: 'bob' });
        expectProblem(await bob.client.get(`/v1/sessions/${alices.id}`), 404, 'not_found');
        expectProblem(await bob.client.post(`/v1/sessions/${alices.id}/messages`, { role: 'user', content: 'x' }), 404, 'not_found');
        expectProblem(await bob.client.get(`/v1/sessions/${alices.id}/messages`), 404, 'not_found');
        expectProblem(await bob.client.patch(`/v1/sessions/${alices.id}`, { title: 'x' }), 404, 'not_found');
        expectProblem(await bob.client.post(`/v1/sessions/${alices.id}/archive`), 404, 'not_found');
        const bobList = await bob.client.get<PageBody<SessionBody>>('/v1/sessions?limit=200');
        expect(bobList.body.data.map((s) => s.id)).toEqual([bobs.id]);
        const adminList = await acme.admin.get<PageBody<SessionBody>>('/v1/sessions?limit=200');
        expect(adminList.body.data.map((s) => s.id)).toEqual(expect.arrayContaining([alices.id, bobs.id]));
        expect((await acme.admin.get(`/v1/sessions/${alices.id}`)).status).toBe(200);
        expectProblem(await alice.client.get('/v1/audit-events'), 403, 'forbidden');
      });

      it('answers 404 for a malformed id like for a foreign one', async () => {
        expectProblem(await acme.admin.get('/v1/sessions/not-a-uuid'), 404, 'not_found');
      });
    });

    describe('idempotency', () => {
      it('replays the original response for a retried POST', async () => {
        const headers = { 'idempotency-key': `create-${Date.now()}` };
        const first = await acme.admin.post<SessionBody>('/v1/sessions', { title: 'once' }, headers);
        const retry = await acme.admin.post<SessionBody>('/v1/sessions', { title: 'once' }, headers);
        expect(first.status).toBe(201);
        expect(retry.status).toBe(201);
        expect(retry.body).toEqual(first.body);
        expect(retry.headers.get('idempotent-replayed')).toBe('true');
        expectProblem(await acme.admin.post('/v1/sessions', { title: 'different' }, headers), 422, 'idempotency_key_reused');
        // The audit trail shows one creation, and the retry as a replay that changed nothing.
        const trail = await acme.admin.get<PageBody<Json>>('/v1/audit-events?limit=200');
        const entryOf = (response: ApiResponse) => trail.body.data.find((e) => e.request_id === response.headers.get('x-request-id'));
        expect(entryOf(first)).toMatchObject({ action: 'session.create', target_id: first.body.id, outcome: 'success' });
        expect(entryOf(first)?.metadata).not.toHaveProperty('idempotent_replay');
        expect(entryOf(retry)).toMatchObject({ outcome: 'success', metadata: { idempotent_replay: true }, reason: expect.stringContaining('idempotent replay') });
      });

      it('creates one record for concurrent duplicates', async () => {
        const parent = await createSession(acme.admin, { title: 'idem parent' });
        const headers = { 'idempotency-key': `dup-${Date.now()}` };
        const responses = await Promise.all(
          Array.from({ length: 10 }, () => acme.admin.post<SessionBody>('/v1/sessions', { parent_session_id: parent.id }, headers)),
        );
        const statuses = responses.map((r) => r.status);
        expect(statuses.every((s) => s === 201 || s === 409)).toBe(true);
        for (const conflict of responses.filter((r) => r.status === 409)) expectProblem(conflict, 409, 'idempotency_request_in_flight');
        const created = new Set(responses.filter((r) => r.status === 201).map((r) => r.body.id));
        expect(created.size).toBe(1);
        const children = await acme.admin.get<PageBody<SessionBody>>(`/v1/sessions?parent_session_id=${parent.id}`);
        expect(children.body.data).toHaveLength(1);
      });

      it('scopes keys per caller: another principal may reuse the same key', async () => {
        const headers = { 'idempotency-key': `shared-${Date.now()}` };
        const a = await acme.admin.post<SessionBody>('/v1/sessions', { title: 'a' }, headers);
        const b = await globex.admin.post<SessionBody>('/v1/sessions', { title: 'b' }, headers);
        expect([a.status, b.status]).toEqual([201, 201]);
        expect(a.body.id).not.toBe(b.body.id);
      });
    });

    describe('runs', () => {
      async function createRun(client: ApiClient, body: Json, headers?: Record<string, string>): Promise<RunBody> {
        const response = await client.post<RunBody>('/v1/runs', body, headers);
        expect(response.status).toBe(201);
        return response.body;
      }

      it('serves the runs routes in the OpenAPI document', async () => {
        const openapi = await anonymous.get<{ paths: Json }>('/v1/openapi.json');
        expect(Object.keys(openapi.body.paths)).toEqual(
          expect.arrayContaining([
            '/v1/runs',
            '/v1/runs/{id}',
            '/v1/runs/{id}/cancel',
            '/v1/sessions/{id}/runs',
            '/v1/runs/{id}/steps',
            '/v1/runs/{id}/waits',
            '/v1/runs/{id}/waits/{wait_id}/approve',
            '/v1/runs/{id}/waits/{wait_id}/deny',
            '/v1/runs/{id}/waits/{wait_id}/respond',
            '/v1/runs/{id}/events',
            '/v1/runs/{id}/stream',
            '/v1/events/stream',
          ]),
        );
      });

      it('answers 404 for another tenant’s or another member’s run on every run endpoint, and changes nothing', async () => {
        const alice = await createPrincipalWithKey(acme, 'member', 'Alice of runs');
        const bob = await createPrincipalWithKey(acme, 'member', 'Bob of runs');
        const session = await createSession(alice.client, { title: 'alice runs' });
        const run = await createRun(alice.client, { session_id: session.id, input: 'mine' });
        const someWait = uuidv7();
        for (const other of [globex.admin, bob.client]) {
          const attempts: ApiResponse[] = [
            await other.get(`/v1/runs/${run.id}`),
            await other.post(`/v1/runs/${run.id}/cancel`, {}),
            await other.get(`/v1/runs/${run.id}/steps`),
            await other.get(`/v1/runs/${run.id}/waits`),
            await other.get(`/v1/runs/${run.id}/events`),
            await other.post(`/v1/runs/${run.id}/waits/${someWait}/approve`, {}),
            await other.post(`/v1/runs/${run.id}/waits/${someWait}/deny`, { reason: 'no' }),
            await other.post(`/v1/runs/${run.id}/waits/${someWait}/respond`, { input: { a: 1 } }),
            await other.post('/v1/runs', { parent_run_id: run.id }),
          ];
          for (const attempt of attempts) expectProblem(attempt, 404, 'not_found');
        }
        expectProblem(await alice.client.post(`/v1/runs/${run.id}/waits/not-a-uuid/approve`, {}), 404, 'not_found');
        expectProblem(await alice.client.post(`/v1/runs/${run.id}/waits/${someWait}/approve`, {}), 404, 'not_found');
        expect((await alice.client.get<PageBody<Json>>(`/v1/runs/${run.id}/steps`)).body).toEqual({ data: [], next_cursor: null });
        expect((await alice.client.get<PageBody<Json>>(`/v1/runs/${run.id}/waits`)).body).toEqual({ data: [], next_cursor: null });
        const history = await alice.client.get<PageBody<{ subject: string; run_id: string }>>(`/v1/runs/${run.id}/events`);
        expect(history.body.data.map((event) => [event.subject, event.run_id])).toEqual([['runs.evt.run.created.v1', run.id]]);
        expect((await alice.client.get<RunBody>(`/v1/runs/${run.id}`)).body).toEqual(run);
      });

      it('queues runs per session, filters lists, cancels idempotently and promotes the next queued run', async () => {
        const session = await createSession(acme.admin, { title: 'runs', route_policy: { provider: 'anthropic', model: 'claude-sonnet-4' } });
        const first = await createRun(acme.admin, { session_id: session.id, input: 'first' });
        expect(first).toMatchObject({
          tenant_id: acme.tenantId,
          owner_id: acme.adminId,
          session_id: session.id,
          source: 'api',
          status: 'pending',
          queue_position: null,
          input: 'first',
          route: { provider: 'anthropic', model: 'claude-sonnet-4', executor: 'echo' },
          route_source: 'session',
        });
        expect(first.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-/);
        const second = await createRun(acme.admin, { session_id: session.id, input: 'second' });
        expect(second).toMatchObject({ status: 'queued', queue_position: 1 });
        expectProblem(await acme.admin.post('/v1/runs', { session_id: session.id, input: 'third', busy_policy: 'reject' }), 409, 'session_busy');

        expect((await acme.admin.get<RunBody>(`/v1/runs/${first.id}`)).body).toEqual(first);
        expect((await acme.admin.get<RunBody>(`/v1/runs/${second.id}`)).body).toEqual(second);
        const inSession = await acme.admin.get<PageBody<RunBody>>(`/v1/runs?session_id=${session.id}`);
        expect(inSession.status).toBe(200);
        expect(inSession.body.data.map((r) => r.id)).toEqual([second.id, first.id]);
        const queued = await acme.admin.get<PageBody<RunBody>>(`/v1/runs?session_id=${session.id}&status=queued`);
        expect(queued.body.data.map((r) => r.id)).toEqual([second.id]);
        const nested = await acme.admin.get<PageBody<RunBody>>(`/v1/sessions/${session.id}/runs`);
        expect(nested.status).toBe(200);
        expect(nested.body.data.map((r) => r.id)).toEqual([second.id, first.id]);
        const nestedPending = await acme.admin.get<PageBody<RunBody>>(`/v1/sessions/${session.id}/runs?status=pending`);
        expect(nestedPending.body.data.map((r) => r.id)).toEqual([first.id]);
        expectProblem(await acme.admin.get(`/v1/sessions/${session.id}/runs?status=sleeping`), 400, 'validation_failed');
        expectProblem(await acme.admin.get(`/v1/sessions/${session.id}/runs?session_id=${session.id}`), 400, 'validation_failed');

        const cancelled = await acme.admin.post<RunBody>(`/v1/runs/${first.id}/cancel`, { reason: 'changed my mind' });
        expect(cancelled.status).toBe(200);
        expect(cancelled.body).toMatchObject({ id: first.id, status: 'cancelled', cancel_reason: 'changed my mind', cancelled_by: acme.adminId });
        expect((await acme.admin.get<RunBody>(`/v1/runs/${second.id}`)).body).toMatchObject({ status: 'pending', queue_position: null });
        const again = await acme.admin.post<RunBody>(`/v1/runs/${first.id}/cancel`, {});
        expect(again.status).toBe(200);
        expect(again.body).toMatchObject({ id: first.id, status: 'cancelled', finished_at: cancelled.body.finished_at });
        expect((await acme.admin.get<PageBody<RunBody>>(`/v1/runs?session_id=${session.id}&status=queued`)).body.data).toEqual([]);
      });

      it('routes a run without a session by the deployment default', async () => {
        const run = await createRun(acme.admin, { input: 'on its own' });
        expect(run).toMatchObject({ session_id: null, status: 'pending', queue_position: null, route: { executor: 'echo' }, route_source: 'default' });
        expect(run.route).toEqual({ executor: 'echo' });
      });

      it('refuses bad bodies and queries with 400, creating nothing', async () => {
        const session = await createSession(acme.admin, { title: 'bad runs' });
        const unknown = await acme.admin.post<{ errors: { field: string }[] }>('/v1/runs', { session_id: session.id, input: 'x', colour: 'red' });
        expectProblem(unknown, 400, 'validation_failed');
        expect(unknown.body.errors.map((e) => e.field)).toContain('colour');
        const attempts = await acme.admin.post<{ errors: { field: string }[] }>('/v1/runs', { session_id: session.id, input: 'x', max_attempts: 0 });
        expectProblem(attempts, 400, 'validation_failed');
        expect(attempts.body.errors.map((e) => e.field)).toContain('max_attempts');
        for (const body of [{ ttl_seconds: null }, { input_items: null }, { parent_run_id: null }, { route: [] }]) {
          expectProblem(await acme.admin.post('/v1/runs', { session_id: session.id, input: 'x', ...body }), 400, 'validation_failed');
        }
        expectProblem(await acme.admin.post(`/v1/runs/${uuidv7()}/cancel`, { reason: 'x', extra: true }), 400, 'validation_failed');
        expectProblem(await acme.admin.get('/v1/runs?status=sleeping'), 400, 'validation_failed');
        expectProblem(await acme.admin.get('/v1/runs?cursor=not-a-cursor'), 400, 'invalid_cursor');
        expect((await acme.admin.get<PageBody<RunBody>>(`/v1/sessions/${session.id}/runs`)).body.data).toEqual([]);
      });

      it('answers 404 for unknown and malformed run ids', async () => {
        expectProblem(await acme.admin.get(`/v1/runs/${uuidv7()}`), 404, 'not_found');
        expectProblem(await acme.admin.get('/v1/runs/not-a-uuid'), 404, 'not_found');
        expectProblem(await acme.admin.post('/v1/runs/not-a-uuid/cancel', {}), 404, 'not_found');
        expectProblem(await acme.admin.get('/v1/sessions/not-a-uuid/runs'), 404, 'not_found');
        expectProblem(await acme.admin.get(`/v1/sessions/${uuidv7()}/runs`), 404, 'not_found');
        expectProblem(await acme.admin.post('/v1/runs', { session_id: uuidv7(), input: 'x' }), 404, 'not_found');
      });

      it('answers 404 for another tenant’s runs on every endpoint and changes nothing', async () => {
        const session = await createSession(acme.admin, { title: 'acme runs' });
        const run = await createRun(acme.admin, { session_id: session.id, input: 'acme only' });
        const attempts: ApiResponse[] = [
          await globex.admin.get(`/v1/runs/${run.id}`),
          await globex.admin.post(`/v1/runs/${run.id}/cancel`, {}),
          await globex.admin.get(`/v1/sessions/${session.id}/runs`),
          await globex.admin.post('/v1/runs', { session_id: session.id, input: 'intrude' }),
          await globex.admin.post('/v1/runs', { parent_run_id: run.id, input: 'intrude' }),
        ];
        for (const attempt of attempts) expectProblem(attempt, 404, 'not_found');
        expect((await globex.admin.get<PageBody<RunBody>>('/v1/runs?limit=200')).body.data.map((r) => r.id)).not.toContain(run.id);
        expect((await globex.admin.get<PageBody<RunBody>>(`/v1/runs?session_id=${session.id}`)).body.data).toEqual([]);
        expect((await acme.admin.get<RunBody>(`/v1/runs/${run.id}`)).body).toEqual(run);
        expect((await acme.admin.get<PageBody<RunBody>>(`/v1/sessions/${session.id}/runs`)).body.data.map((r) => r.id)).toEqual([run.id]);
      });

      it('shows a member only the runs of its own sessions', async () => {
        const member = await createPrincipalWithKey(acme, 'member', 'Runner');
        const adminSession = await createSession(acme.admin, { title: 'admin runs' });
        const adminRun = await createRun(acme.admin, { session_id: adminSession.id, input: 'admin' });
        const ownSession = await createSession(member.client, { title: 'member runs' });
        const ownRun = await createRun(member.client, { session_id: ownSession.id, input: 'mine' });
        expect(ownRun.owner_id).toBe(member.id);
        expectProblem(await member.client.get(`/v1/runs/${adminRun.id}`), 404, 'not_found');
        expectProblem(await member.client.post(`/v1/runs/${adminRun.id}/cancel`, {}), 404, 'not_found');
        expectProblem(await member.client.get(`/v1/sessions/${adminSession.id}/runs`), 404, 'not_found');
        expectProblem(await member.client.post('/v1/runs', { session_id: adminSession.id, input: 'x' }), 404, 'not_found');
        expect((await member.client.get<PageBody<RunBody>>('/v1/runs?limit=200')).body.data.map((r) => r.id)).toEqual([ownRun.id]);
        expect((await member.client.get<PageBody<RunBody>>(`/v1/runs?session_id=${adminSession.id}`)).body.data).toEqual([]);
        expect((await member.client.get<PageBody<RunBody>>(`/v1/sessions/${ownSession.id}/runs`)).body.data.map((r) => r.id)).toEqual([ownRun.id]);
        const adminView = await acme.admin.get<PageBody<RunBody>>('/v1/runs?limit=200');
        expect(adminView.body.data.map((r) => r.id)).toEqual(expect.arrayContaining([adminRun.id, ownRun.id]));
        expect((await acme.admin.get<RunBody>(`/v1/runs/${adminRun.id}`)).body.status).toBe('pending');
      });

      it('replays a retried create with the same Idempotency-Key', async () => {
        const headers = { 'idempotency-key': `run-${Date.now()}` };
        const first = await acme.admin.post<RunBody>('/v1/runs', { input: 'once' }, headers);
        const retry = await acme.admin.post<RunBody>('/v1/runs', { input: 'once' }, headers);
        expect([first.status, retry.status]).toEqual([201, 201]);
        expect(retry.body).toEqual(first.body);
        expect(retry.headers.get('idempotent-replayed')).toBe('true');
        const since = new Date(new Date(first.body.created_at as string).getTime() - 1).toISOString();
        const listed = await acme.admin.get<PageBody<RunBody>>(`/v1/runs?created_after=${since}&limit=200`);
        expect(listed.body.data.filter((r) => r.input === 'once').map((r) => r.id)).toEqual([first.body.id]);
      });

      it('records run.create and run.cancel in the audit trail with the run as target', async () => {
        const created = await acme.admin.post<RunBody>('/v1/runs', { input: 'audited' }, { 'x-request-id': `run-audit-${Date.now()}` });
        expect(created.status).toBe(201);
        const cancelled = await acme.admin.post<RunBody>(`/v1/runs/${created.body.id}/cancel`, {});
        expect(cancelled.status).toBe(200);
        // The audit hook writes after the response has gone out.
        await expectEventually(async () => {
          const events = await acme.admin.get<PageBody<Json>>('/v1/audit-events?action=run.create&limit=200');
          const event = events.body.data.find((e) => e.request_id === created.headers.get('x-request-id'));
          expect(event).toMatchObject({ actor_id: acme.adminId, action: 'run.create', target_type: 'run', target_id: created.body.id, outcome: 'success' });
        });
        await expectEventually(async () => {
          const events = await acme.admin.get<PageBody<Json>>('/v1/audit-events?action=run.cancel&limit=200');
          const event = events.body.data.find((e) => e.request_id === cancelled.headers.get('x-request-id'));
          expect(event).toMatchObject({ actor_id: acme.adminId, action: 'run.cancel', target_type: 'run', target_id: created.body.id, outcome: 'success' });
        });
      });
    });

    describe('turns', () => {
      interface MessageBody extends Json {
        id: string;
        seq: number;
        role: string;
        content: string | null;
      }
      interface TurnBody extends Json {
        message: MessageBody;
        run: RunBody;
      }

      it('serves the turns route in the OpenAPI document', async () => {
        const openapi = await anonymous.get<{ paths: Record<string, { post?: { responses: Json } }> }>('/v1/openapi.json');
        const post = openapi.body.paths['/v1/sessions/{id}/turns']?.post;
        expect(Object.keys(post?.responses ?? {})).toEqual(expect.arrayContaining(['201', '400', '404', '409']));
      });

      it('appends the user’s message and creates a chat run from it: 201 with both', async () => {
        const session = await createSession(acme.admin, { title: 'chat turns' });
        const created = await acme.admin.post<TurnBody>(`/v1/sessions/${session.id}/turns`, { content: 'Summarise the report', metadata: { via: 'web' } });
        expect(created.status).toBe(201);
        const { message, run } = created.body;
        expect(message).toMatchObject({ session_id: session.id, seq: 1, role: 'user', content: 'Summarise the report', metadata: { via: 'web' }, author_id: acme.adminId });
        expect(run).toMatchObject({ session_id: session.id, source: 'chat', status: 'pending', input: 'Summarise the report', metadata: { message_id: message.id } });
        expect((await acme.admin.get<PageBody<MessageBody>>(`/v1/sessions/${session.id}/messages`)).body.data).toEqual([message]);
        expect((await acme.admin.get<PageBody<RunBody>>(`/v1/sessions/${session.id}/runs`)).body.data.map((r) => r.id)).toEqual([run.id]);

        // The next turn queues behind it (enqueue), or is refused without a trace (reject).
        const parts = [
          { type: 'text', text: 'and this' },
          { type: 'file', file_id: 'file_9', name: 'a.pdf' },
        ];
        const queued = await acme.admin.post<TurnBody>(`/v1/sessions/${session.id}/turns`, { input_items: parts });
        expect(queued.status).toBe(201);
        expect(queued.body.message).toMatchObject({ seq: 2, content: 'and this', input_items: parts });
        expect(queued.body.run).toMatchObject({ status: 'queued', queue_position: 1, input: null, input_items: parts });
        expectProblem(await acme.admin.post(`/v1/sessions/${session.id}/turns`, { content: 'now!', busy_policy: 'reject' }), 409, 'session_busy');
        expect((await acme.admin.get<SessionBody>(`/v1/sessions/${session.id}`)).body.message_count).toBe(2);
        expect((await acme.admin.get<PageBody<RunBody>>(`/v1/sessions/${session.id}/runs`)).body.data).toHaveLength(2);
      });

      it('answers a retry with the same Idempotency-Key with the original message and run, also for concurrent duplicates', async () => {
        const session = await createSession(acme.admin, { title: 'idempotent turns' });
        const headers = { 'idempotency-key': `turn-${uuidv7()}` };
        const first = await acme.admin.post<TurnBody>(`/v1/sessions/${session.id}/turns`, { content: 'once' }, headers);
        const retry = await acme.admin.post<TurnBody>(`/v1/sessions/${session.id}/turns`, { content: 'once' }, headers);
        expect([first.status, retry.status]).toEqual([201, 201]);
        expect(retry.body).toEqual(first.body);
        expect(retry.headers.get('idempotent-replayed')).toBe('true');

        const concurrentHeaders = { 'idempotency-key': `turn-${uuidv7()}` };
        const responses = await Promise.all(
          Array.from({ length: 6 }, () => acme.admin.post<TurnBody>(`/v1/sessions/${session.id}/turns`, { content: 'twice?' }, concurrentHeaders)),
        );
        for (const conflict of responses.filter((r) => r.status !== 201)) expectProblem(conflict, 409, 'idempotency_request_in_flight');
        expect(new Set(responses.filter((r) => r.status === 201).map((r) => r.body.run.id)).size).toBe(1);
        const messages = await acme.admin.get<PageBody<MessageBody>>(`/v1/sessions/${session.id}/messages`);
        expect(messages.body.data.map((m) => m.content)).toEqual(['once', 'twice?']);
        const runs = await acme.admin.get<PageBody<RunBody>>(`/v1/sessions/${session.id}/runs`);
        expect(runs.body.data).toHaveLength(2);
      });

      it('creates exactly one run for concurrent duplicate POST /v1/runs with one Idempotency-Key', async () => {
        const session = await createSession(acme.admin, { title: 'duplicate runs' });
        const headers = { 'idempotency-key': `runs-${uuidv7()}` };
        const responses = await Promise.all(
          Array.from({ length: 10 }, () => acme.admin.post<RunBody>('/v1/runs', { session_id: session.id, input: 'only one' }, headers)),
        );
        for (const conflict of responses.filter((r) => r.status !== 201)) expectProblem(conflict, 409, 'idempotency_request_in_flight');
        const created = responses.filter((r) => r.status === 201);
        expect(created.length).toBeGreaterThan(0);
        expect(new Set(created.map((r) => r.body.id)).size).toBe(1);
        const listed = await acme.admin.get<PageBody<RunBody>>(`/v1/runs?session_id=${session.id}&limit=200`);
        expect(listed.body.data.map((r) => r.id)).toEqual([created[0].body.id]);
      });

      it('keeps one run and one turn per key across a principal’s API keys (the services enforce keys, not only the gateway)', async () => {
        // The gateway scopes its replay store per API key; the services key on the principal, so two
        // keys of one principal sending the same Idempotency-Key at once still create one record.
        const member = await createPrincipalWithKey(acme, 'member', 'Two Keys');
        const second = await member.client.post<Json>('/v1/api-keys', { name: 'second device' });
        expect(second.status).toBe(201);
        const clients = [member.client, anonymous.as(second.body.key as string)];
        const session = await createSession(member.client, { title: 'two keys' });
        const runHeaders = { 'idempotency-key': `two-keys-run-${uuidv7()}` };
        const runs = await Promise.all(clients.map((client) => client.post<RunBody>('/v1/runs', { session_id: session.id, input: 'one run' }, runHeaders)));
        expect(runs.map((r) => r.status)).toEqual([201, 201]);
        expect(runs[1].body.id).toBe(runs[0].body.id);
        const turnHeaders = { 'idempotency-key': `two-keys-turn-${uuidv7()}` };
        const turns = await Promise.all(clients.map((client) => client.post<TurnBody>(`/v1/sessions/${session.id}/turns`, { content: 'one turn' }, turnHeaders)));
        expect(turns.map((r) => r.status)).toEqual([201, 201]);
        expect(turns[1].body.message.id).toBe(turns[0].body.message.id);
        expect(turns[1].body.run.id).toBe(turns[0].body.run.id);
        expect((await member.client.get<PageBody<RunBody>>(`/v1/sessions/${session.id}/runs`)).body.data).toHaveLength(2);
        expect((await member.client.get<SessionBody>(`/v1/sessions/${session.id}`)).body.message_count).toBe(1);
      });

      it('answers 404 for another tenant’s, another member’s and a malformed session, and changes nothing', async () => {
        const session = await createSession(acme.admin, { title: 'not yours' });
        const member = await createPrincipalWithKey(acme, 'member', 'Turner');
        for (const attempt of [
          await globex.admin.post(`/v1/sessions/${session.id}/turns`, { content: 'intrude' }),
          await member.client.post(`/v1/sessions/${session.id}/turns`, { content: 'intrude' }),
          await acme.admin.post('/v1/sessions/not-a-uuid/turns', { content: 'x' }),
          await acme.admin.post(`/v1/sessions/${uuidv7()}/turns`, { content: 'x' }),
        ]) {
          expectProblem(attempt, 404, 'not_found');
        }
        expect((await acme.admin.get<SessionBody>(`/v1/sessions/${session.id}`)).body.message_count).toBe(0);
        expect((await acme.admin.get<PageBody<RunBody>>(`/v1/sessions/${session.id}/runs`)).body.data).toEqual([]);
        const own = await createSession(member.client, { title: 'mine' });
        expect((await member.client.post<TurnBody>(`/v1/sessions/${own.id}/turns`, { content: 'hello' })).body.run.owner_id).toBe(member.id);
      });

      it('refuses bad input with 400 and an archived session with 409, changing nothing', async () => {
        const session = await createSession(acme.admin, { title: 'bad turns' });
        const both = await acme.admin.post<{ errors: { field: string }[] }>(`/v1/sessions/${session.id}/turns`, {
          content: 'x',
          input_items: [{ type: 'text', text: 'y' }],
        });
        expectProblem(both, 400, 'validation_failed');
        expect(both.body.errors.map((e) => e.field)).toContain('content');
        for (const body of [{}, { content: '' }, { content: 'x', role: 'user' }, { content: 'x', busy_policy: 'later' }, { content: 'x', metadata: null }, { content: 'x', route: [] }]) {
          expectProblem(await acme.admin.post(`/v1/sessions/${session.id}/turns`, body), 400, 'validation_failed');
        }
        expectProblem(await acme.admin.post(`/v1/sessions/${session.id}/turns`, { content: 'x' }, { 'idempotency-key': 'é' }), 400, 'validation_failed');
        expect((await acme.admin.get<SessionBody>(`/v1/sessions/${session.id}`)).body.message_count).toBe(0);
        await acme.admin.post(`/v1/sessions/${session.id}/archive`);
        expectProblem(await acme.admin.post(`/v1/sessions/${session.id}/turns`, { content: 'late' }), 409, 'session_archived');
        expect((await acme.admin.get<PageBody<RunBody>>(`/v1/sessions/${session.id}/runs`)).body.data).toEqual([]);
      });

      it('records session.turn in the audit trail with the session as target', async () => {
        const session = await createSession(acme.admin, { title: 'audited turn' });
        const created = await acme.admin.post<TurnBody>(`/v1/sessions/${session.id}/turns`, { content: 'audit me' }, { 'x-request-id': `turn-audit-${uuidv7()}` });
        expect(created.status).toBe(201);
        await expectEventually(async () => {
          const events = await acme.admin.get<PageBody<Json>>('/v1/audit-events?action=session.turn&limit=200');
          const event = events.body.data.find((e) => e.request_id === created.headers.get('x-request-id'));
          expect(event).toMatchObject({ actor_id: acme.adminId, action: 'session.turn', target_type: 'session', target_id: session.id, outcome: 'success' });
        });
      });
    });

    describe('rate limits and audit', () => {
      it('answers 429 with Retry-After once a key exceeds its limit', async () => {
        const member = await createPrincipalWithKey(globex, 'member', 'Speedy');
        let limited: ApiResponse | undefined;
        for (let i = 0; i <= SUITE_RATE_LIMIT.rateLimitPoints && !limited; i++) {
          const response = await member.client.get('/v1/me');
          if (response.status === 429) limited = response;
          else expect(response.status).toBe(200);
        }
        expect(limited).toBeDefined();
        expectProblem(limited!, 429, 'rate_limited');
        expect(Number(limited!.headers.get('retry-after'))).toBeGreaterThan(0);
        expect((await globex.admin.get('/v1/me')).status).toBe(200);
      });

      it('records mutating requests and failed authentication for tenant admins', async () => {
        const response = await acme.admin.post<SessionBody>('/v1/sessions', { title: 'audited' }, { 'x-request-id': `audit-${Date.now()}` });
        const requestId = response.headers.get('x-request-id')!;
        const events = await acme.admin.get<PageBody<Json>>('/v1/audit-events?action=session.create&limit=200');
        expect(events.status).toBe(200);
        const event = events.body.data.find((e) => e.request_id === requestId);
        expect(event).toMatchObject({ actor_id: acme.adminId, action: 'session.create', target_type: 'session', target_id: response.body.id, outcome: 'success' });
        const failed = await acme.admin.post('/v1/sessions', { bogus: true });
        expect(failed.status).toBe(400);
        const failures = await acme.admin.get<PageBody<Json>>(`/v1/audit-events?outcome=failure&limit=200`);
        expect(failures.body.data.some((e) => e.request_id === failed.headers.get('x-request-id'))).toBe(true);
        const globexView = await globex.admin.get<PageBody<Json>>('/v1/audit-events?limit=200');
        expect(globexView.body.data.some((e) => e.request_id === requestId)).toBe(false);
        expect(JSON.stringify(events.body)).not.toContain(acme.admin.key!);
      });
    });
  });
}
