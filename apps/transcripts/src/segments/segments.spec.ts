import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  CancelRun,
  ClaimRun,
  CompleteRun,
  CreateRun,
  CreateRunTranscriptSegment,
  CreateSession,
  CreateSessionTranscriptSegment,
  ErrorCode,
  GetTranscriptSegment,
  ListRunTranscriptSegments,
  ListSessionTranscriptSegments,
  PostRunTranscriptSegment,
  TRANSCRIPT_SEGMENT_CONTENT_MAX_BYTES,
  TRANSCRIPT_SEGMENT_METADATA_MAX_BYTES,
  TranscriptSegmentCreated,
  type CallerScope,
  type ClaimedRun,
  type CreateTranscriptSegmentBody,
  type ListTranscriptSegmentsQuery,
  type TranscriptSegmentView,
} from '@runyard/contracts';
import type { InProcessBus } from '@runyard/messaging';
import { failure, newTenant, uniqueExecutor } from '@runyard/runs/testing';
import { expectEventually } from '@runyard/testing';
import { v7 as uuidv7 } from 'uuid';
import { startTranscriptsFixture, type TranscriptsFixture } from '../transcripts.fixture.js';
import { DEFAULT_SEGMENTS_SETTINGS, segmentExpiry } from './segments-settings.js';

// Transcript segments on standalone pieces (embedded Postgres, in-process bus, the real sessions and
// runs services): creation for a session or a run, scoping (tenants, members, foreign ids → 404),
// limits, retention metadata, idempotent creates, and workers' lease-fenced writes.
const DAY_MS = 24 * 60 * 60 * 1000;

let fixture: TranscriptsFixture;
let bus: InProcessBus;

beforeAll(async () => {
  fixture = await startTranscriptsFixture();
  ({ bus } = fixture);
}, 60_000);
afterAll(() => fixture.close());

async function newSession(scope: CallerScope): Promise<string> {
  return (await bus.request(CreateSession, { scope, body: { title: 'transcripts' } })).id;
}

async function newRun(scope: CallerScope, sessionId?: string, executor = uniqueExecutor()): Promise<string> {
  const run = await bus.request(CreateRun, { scope, body: { route: { executor }, ...(sessionId === undefined ? {} : { session_id: sessionId }) } });
  return run.id;
}

/** A run of its own executor, claimed: the worker's lease. */
async function claimedRun(scope: CallerScope, sessionId?: string, leaseTtlMs = 30_000): Promise<ClaimedRun> {
  const executor = uniqueExecutor();
  const runId = await newRun(scope, sessionId, executor);
  const claimed = await bus.request(ClaimRun, { worker_id: 'segments-spec', executors: [executor], lease_ttl_ms: leaseTtlMs });
  if (claimed?.run.id !== runId) throw new Error('the run was not claimed');
  return claimed;
}

function forSession(scope: CallerScope, sessionId: string, body: CreateTranscriptSegmentBody, idempotencyKey?: string) {
  return bus.request(CreateSessionTranscriptSegment, { scope, session_id: sessionId, body, ...(idempotencyKey === undefined ? {} : { idempotency_key: idempotencyKey }) });
}

function forRun(scope: CallerScope, runId: string, body: CreateTranscriptSegmentBody, idempotencyKey?: string) {
  return bus.request(CreateRunTranscriptSegment, { scope, run_id: runId, body, ...(idempotencyKey === undefined ? {} : { idempotency_key: idempotencyKey }) });
}

function post(claimed: ClaimedRun, key: string, content: string, leaseToken = claimed.lease_token) {
  return bus.request(PostRunTranscriptSegment, { tenant_id: claimed.run.tenant_id, run_id: claimed.run.id, lease_token: leaseToken, key, kind: 'execution', content });
}

async function all(scope: CallerScope, parent: { session_id: string } | { run_id: string }, query: ListTranscriptSegmentsQuery = {}): Promise<TranscriptSegmentView[]> {
  const out: TranscriptSegmentView[] = [];
  let cursor: string | undefined;
  do {
    const payload = { scope, query: { ...query, ...(cursor ? { cursor } : {}) } };
    const page = 'session_id' in parent ? await bus.request(ListSessionTranscriptSegments, { ...payload, ...parent }) : await bus.request(ListRunTranscriptSegments, { ...payload, ...parent });
    out.push(...page.data);
    cursor = page.next_cursor ?? undefined;
  } while (cursor !== undefined);
  return out;
}

const contents = (segments: TranscriptSegmentView[]) => segments.map((segment) => segment.content);
const createdEvents = (id: string) => fixture.events.filter((event) => event.subject === TranscriptSegmentCreated.subject && (event.data as { id?: string }).id === id);

describe('creating and reading', () => {
  it('stores a session’s segment with its retention metadata, publishes it (scoped, without the content) and reads it back', async () => {
    const { admin } = newTenant();
    const sessionId = await newSession(admin);
    const segment = await forSession(admin, sessionId, { kind: 'conversation', content: 'They agreed on Tuesday.', metadata: { turns: 4 } });
    expect(segment).toEqual({
      id: expect.any(String),
      tenant_id: admin.tenant_id,
      kind: 'conversation',
      session_id: sessionId,
      run_id: null,
      content: 'They agreed on Tuesday.',
      metadata: { turns: 4 },
      retention_class: 'transcripts',
      expires_at: expect.any(String),
      created_by: admin.principal_id,
      created_at: expect.any(String),
    });
    // The configured default: 90 days from creation.
    expect(Date.parse(segment.expires_at!) - Date.parse(segment.created_at)).toBe(90 * DAY_MS);
    expect(await bus.request(GetTranscriptSegment, { scope: admin, segment_id: segment.id })).toEqual(segment);
    await expectEventually(() => expect(createdEvents(segment.id)).toHaveLength(1));
    const [event] = createdEvents(segment.id);
    expect(event).toMatchObject({ tenant_id: admin.tenant_id, owner_id: admin.principal_id, session_id: sessionId });
    expect(event.run_id).toBeUndefined();
    expect(event.data).toEqual({
      id: segment.id,
      kind: 'conversation',
      session_id: sessionId,
      run_id: null,
      content_bytes: 23,
      retention_class: 'transcripts',
      expires_at: segment.expires_at,
      created_by: admin.principal_id,
      created_at: segment.created_at,
    });
  });

  it('files a run’s segment under the run and its session; a run outside a session has none', async () => {
    const { admin } = newTenant();
    const sessionId = await newSession(admin);
    const runId = await newRun(admin, sessionId);
    const own = await forSession(admin, sessionId, { kind: 'summary', content: 'session summary' });
    const ofRun = await forRun(admin, runId, { kind: 'execution', content: 'run summary' });
    expect(ofRun).toMatchObject({ session_id: sessionId, run_id: runId, metadata: {} });
    await expectEventually(() => expect(createdEvents(ofRun.id)[0]).toMatchObject({ session_id: sessionId, run_id: runId, owner_id: admin.principal_id }));
    expect(contents(await all(admin, { session_id: sessionId }))).toEqual([own.content, ofRun.content]);
    expect(contents(await all(admin, { run_id: runId }))).toEqual([ofRun.content]);
    const loneRun = await newRun(admin);
    expect(await forRun(admin, loneRun, { kind: 'execution', content: 'alone' })).toMatchObject({ session_id: null, run_id: loneRun });
  });

  it('lists oldest first in pages, filtered by kind; a cursor it did not hand out is invalid_cursor', async () => {
    const { admin } = newTenant();
    const runId = await newRun(admin);
    const kinds = ['conversation', 'execution', 'summary', 'execution', 'conversation'] as const;
    for (const [i, kind] of kinds.entries()) await forRun(admin, runId, { kind, content: `s${i}` });
    const first = await bus.request(ListRunTranscriptSegments, { scope: admin, run_id: runId, query: { limit: 2 } });
    expect(contents(first.data)).toEqual(['s0', 's1']);
    expect(first.next_cursor).not.toBeNull();
    expect(contents(await all(admin, { run_id: runId }, { limit: 2 }))).toEqual(['s0', 's1', 's2', 's3', 's4']);
    expect(contents(await all(admin, { run_id: runId }, { kind: 'execution', limit: 1 }))).toEqual(['s1', 's3']);
    const bad = await failure(bus.request(ListRunTranscriptSegments, { scope: admin, run_id: runId, query: { cursor: 'nope' } }));
    expect(bad.code).toBe(ErrorCode.INVALID_CURSOR);
  });
});

describe('scoping', () => {
  it('answers not_found for sessions, runs and segments of another tenant, and for unknown ids; lists show nothing foreign', async () => {
    const acme = newTenant().admin;
    const globex = newTenant().admin;
    const sessionId = await newSession(acme);
    const runId = await newRun(acme, sessionId);
    const segment = await forRun(acme, runId, { kind: 'execution', content: 'secret' });
    for (const attempt of [
      forSession(globex, sessionId, { kind: 'summary', content: 'x' }),
      forRun(globex, runId, { kind: 'summary', content: 'x' }),
      bus.request(GetTranscriptSegment, { scope: globex, segment_id: segment.id }),
      forSession(acme, uuidv7(), { kind: 'summary', content: 'x' }),
      forRun(acme, uuidv7(), { kind: 'summary', content: 'x' }),
      bus.request(GetTranscriptSegment, { scope: acme, segment_id: uuidv7() }),
    ]) {
      expect((await failure(attempt)).code).toBe(ErrorCode.NOT_FOUND);
    }
    expect(await all(globex, { session_id: sessionId })).toEqual([]);
    expect(await all(globex, { run_id: runId })).toEqual([]);
    expect(contents(await all(acme, { session_id: sessionId }))).toEqual(['secret']);
  });

  it('lets a member write and read segments of their own sessions and runs only', async () => {
    const { admin, member } = newTenant();
    const mia = member();
    const adminSession = await newSession(admin);
    const adminRun = await newRun(admin, adminSession);
    const adminSegment = await forSession(admin, adminSession, { kind: 'summary', content: 'admin only' });
    expect((await failure(forSession(mia, adminSession, { kind: 'summary', content: 'x' }))).code).toBe(ErrorCode.NOT_FOUND);
    expect((await failure(forRun(mia, adminRun, { kind: 'summary', content: 'x' }))).code).toBe(ErrorCode.NOT_FOUND);
    expect((await failure(bus.request(GetTranscriptSegment, { scope: mia, segment_id: adminSegment.id }))).code).toBe(ErrorCode.NOT_FOUND);
    expect(await all(mia, { session_id: adminSession })).toEqual([]);

    const miaSession = await newSession(mia);
    const miaRun = await newRun(mia, miaSession);
    const mine = await forRun(mia, miaRun, { kind: 'execution', content: 'mine' });
    expect(mine.created_by).toBe(mia.principal_id);
    expect(await bus.request(GetTranscriptSegment, { scope: mia, segment_id: mine.id })).toEqual(mine);
    expect(contents(await all(mia, { session_id: miaSession }))).toEqual(['mine']);
    // Another member of the tenant does not see it; an admin does.
    expect((await failure(bus.request(GetTranscriptSegment, { scope: member(), segment_id: mine.id }))).code).toBe(ErrorCode.NOT_FOUND);
    expect(await bus.request(GetTranscriptSegment, { scope: admin, segment_id: mine.id })).toEqual(mine);
  });
});

describe('limits', () => {
  it('refuses content over 256 KiB (in UTF-8 bytes), empty content, oversized or non-object metadata and unknown kinds, storing nothing', async () => {
    const { admin } = newTenant();
    const runId = await newRun(admin);
    // 100,000 characters, but 300,000 bytes.
    const euros = '€'.repeat(100_000);
    expect(euros.length).toBeLessThan(TRANSCRIPT_SEGMENT_CONTENT_MAX_BYTES);
    const refused: unknown[] = [
      { kind: 'summary', content: euros },
      { kind: 'summary', content: 'x'.repeat(TRANSCRIPT_SEGMENT_CONTENT_MAX_BYTES + 1) },
      { kind: 'summary', content: '' },
      { kind: 'summary', content: 'x', metadata: { blob: 'y'.repeat(TRANSCRIPT_SEGMENT_METADATA_MAX_BYTES) } },
      { kind: 'summary', content: 'x', metadata: ['not', 'an', 'object'] },
      { kind: 'summary', content: 'x', metadata: null },
      { kind: 'diary', content: 'x' },
      { kind: 'summary', content: 'x', retention_class: 'forever' },
    ];
    for (const body of refused) {
      const error = await failure(forRun(admin, runId, body as CreateTranscriptSegmentBody));
      expect(error.code).toBe(ErrorCode.VALIDATION_FAILED);
    }
    expect(await all(admin, { run_id: runId })).toEqual([]);
    const largest = await forRun(admin, runId, { kind: 'summary', content: 'x'.repeat(TRANSCRIPT_SEGMENT_CONTENT_MAX_BYTES) });
    expect((await bus.request(GetTranscriptSegment, { scope: admin, segment_id: largest.id })).content).toHaveLength(TRANSCRIPT_SEGMENT_CONTENT_MAX_BYTES);
  });
});

describe('retention', () => {
  it('computes expires_at from the class’s retention days; a class kept indefinitely has none', () => {
    const createdAt = new Date('2030-01-01T00:00:00.000Z');
    expect(DEFAULT_SEGMENTS_SETTINGS.retentionDays.transcripts).toBe(90);
    expect(segmentExpiry(createdAt, 90)?.toISOString()).toBe('2030-04-01T00:00:00.000Z');
    expect(segmentExpiry(createdAt, 1)?.toISOString()).toBe('2030-01-02T00:00:00.000Z');
    expect(segmentExpiry(createdAt, null)).toBeNull();
  });
});

describe('idempotent creates', () => {
  it('returns the original segment for a retry with the same key and body, and refuses the key with another body or target', async () => {
    const { admin } = newTenant();
    const sessionId = await newSession(admin);
    const body = { kind: 'summary' as const, content: 'once', metadata: { a: 1, b: 2 } };
    const first = await forSession(admin, sessionId, body, 'api:key-1');
    // Member order does not make it another body.
    const retry = await forSession(admin, sessionId, { metadata: { b: 2, a: 1 }, content: 'once', kind: 'summary' }, 'api:key-1');
    expect(retry).toEqual(first);
    expect((await failure(forSession(admin, sessionId, { ...body, content: 'twice' }, 'api:key-1'))).code).toBe(ErrorCode.IDEMPOTENCY_KEY_REUSED);
    expect((await failure(forSession(admin, await newSession(admin), body, 'api:key-1'))).code).toBe(ErrorCode.IDEMPOTENCY_KEY_REUSED);
    // Keys are per principal: another admin's same key is another segment.
    const colleague = { ...admin, principal_id: uuidv7() };
    expect((await forSession(colleague, sessionId, body, 'api:key-1')).id).not.toBe(first.id);
    expect(contents(await all(admin, { session_id: sessionId }))).toEqual(['once', 'once']);
    await expectEventually(() => expect(createdEvents(first.id)).toHaveLength(1));
  });

  it('creates one segment for concurrent duplicates, and answers each with it', async () => {
    const { admin } = newTenant();
    const runId = await newRun(admin);
    const replies = await Promise.all(Array.from({ length: 6 }, () => forRun(admin, runId, { kind: 'execution', content: 'racing' }, 'api:race')));
    expect(new Set(replies.map((reply) => reply.id)).size).toBe(1);
    expect(await all(admin, { run_id: runId })).toHaveLength(1);
  });

  it('refuses a key outside the gateway’s namespace', async () => {
    const { admin } = newTenant();
    const runId = await newRun(admin);
    expect((await failure(forRun(admin, runId, { kind: 'execution', content: 'x' }, 'worker:reply'))).code).toBe(ErrorCode.VALIDATION_FAILED);
  });
});

describe('worker writes', () => {
  it('stores the holder’s segment for the run (no principal), once per key, visible to the run’s owner', async () => {
    const { admin, member } = newTenant();
    const mia = member();
    const sessionId = await newSession(mia);
    const claimed = await claimedRun(mia, sessionId);
    const segment = await post(claimed, 'execution', 'Echoed 5 characters; posted the reply.');
    expect(segment).toMatchObject({ kind: 'execution', run_id: claimed.run.id, session_id: sessionId, created_by: null, retention_class: 'transcripts' });
    expect(Date.parse(segment.expires_at!) - Date.parse(segment.created_at)).toBe(90 * DAY_MS);
    expect(await post(claimed, 'execution', 'a re-run says it differently')).toEqual(segment);
    expect(await bus.request(GetTranscriptSegment, { scope: mia, segment_id: segment.id })).toEqual(segment);
    expect(contents(await all(admin, { run_id: claimed.run.id }))).toEqual(['Echoed 5 characters; posted the reply.']);
    await expectEventually(() => expect(createdEvents(segment.id)[0]).toMatchObject({ owner_id: mia.principal_id, session_id: sessionId, run_id: claimed.run.id }));
  });

  it('refuses a worker without the lease: another token, a cancel requested, a run that ended, an unknown run', async () => {
    const { admin } = newTenant();
    const claimed = await claimedRun(admin);
    expect((await failure(post(claimed, 'k', 'x', claimed.lease_token + 1))).code).toBe(ErrorCode.LEASE_LOST);
    expect((await failure(post({ ...claimed, run: { ...claimed.run, id: uuidv7() } }, 'k', 'x'))).code).toBe(ErrorCode.NOT_FOUND);
    expect((await failure(post({ ...claimed, run: { ...claimed.run, tenant_id: uuidv7() } }, 'k', 'x'))).code).toBe(ErrorCode.NOT_FOUND);

    const cancelling = await claimedRun(admin);
    await bus.request(CancelRun, { scope: admin, run_id: cancelling.run.id, body: {} });
    expect((await failure(post(cancelling, 'k', 'x'))).code).toBe(ErrorCode.CONFLICT);

    const ended = await claimedRun(admin);
    await bus.request(CompleteRun, { tenant_id: admin.tenant_id, run_id: ended.run.id, lease_token: ended.lease_token });
    expect((await failure(post(ended, 'k', 'x'))).code).toBe(ErrorCode.RUN_TERMINAL);
    for (const run of [claimed, cancelling, ended]) expect(await all(admin, { run_id: run.run.id })).toEqual([]);
  });

  it('does not commit past the lease the runs service vouched for (less the clock margin)', async () => {
    const { admin } = newTenant();
    // A lease shorter than the margin has run out for the transcripts service as soon as it is checked.
    const claimed = await claimedRun(admin, undefined, DEFAULT_SEGMENTS_SETTINGS.leaseCommitMarginMs - 10);
    expect((await failure(post(claimed, 'k', 'too late'))).code).toBe(ErrorCode.LEASE_LOST);
    expect(await all(admin, { run_id: claimed.run.id })).toEqual([]);
  });
});
