import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  AppendLogLines,
  CancelRun,
  CreateRun,
  ErrorCode,
  GetLogState,
  ListLogLines,
  LOG_BATCH_MAX_LINES,
  LOG_LINE_TEXT_MAX_BYTES,
  LogAppended,
  LogClosed,
  type CallerScope,
  type LogLineInput,
  type LogLineView,
  type LogLinesQuery,
} from '@runyard/contracts';
import type { InProcessBus } from '@runyard/messaging';
import { failure, newTenant } from '@runyard/runs/testing';
import { expectEventually } from '@runyard/testing';
import { v7 as uuidv7 } from 'uuid';
import { startTranscriptsFixture, type TranscriptsFixture } from '../transcripts.fixture.js';
import { LOG_LIMIT_MARKER } from './logs.service.js';

// Run logs on standalone pieces: gapless seqs in commit order under concurrent producers, idempotent
// retries, limits and truncation (never a silent drop), closing after the run ends, scoping.
const MAX_LINES_PER_RUN = 500;
const TENANT_BYTES_PER_MINUTE = 1024 * 1024;

let fixture: TranscriptsFixture;
let bus: InProcessBus;

beforeAll(async () => {
  fixture = await startTranscriptsFixture({ maxLinesPerRun: MAX_LINES_PER_RUN, maxBytesPerRun: 1024 * 1024, tenantBytesPerMinute: TENANT_BYTES_PER_MINUTE });
  ({ bus } = fixture);
}, 60_000);
afterAll(() => fixture.close());

async function newRun(scope: CallerScope): Promise<string> {
  const run = await bus.request(CreateRun, { scope, body: { route: { executor: `x-${uuidv7()}` } } });
  return run.id;
}

function lines(count: number, prefix: string, stream: LogLineInput['stream'] = 'stdout'): LogLineInput[] {
  return Array.from({ length: count }, (_, i) => ({ stream, text: `${prefix} ${i}` }));
}

function append(scope: CallerScope, runId: string, batch: LogLineInput[], producer?: { id: string; batch_seq: number }) {
  return bus.request(AppendLogLines, { tenant_id: scope.tenant_id, run_id: runId, lines: batch, ...(producer ? { producer } : {}) });
}

async function allLines(scope: CallerScope, runId: string, query: LogLinesQuery = {}): Promise<LogLineView[]> {
  const out: LogLineView[] = [];
  let cursor: string | undefined;
  do {
    const page = await bus.request(ListLogLines, { scope, run_id: runId, query: { limit: 200, ...query, ...(cursor ? { cursor } : {}) } });
    out.push(...page.data);
    cursor = page.next_cursor ?? undefined;
  } while (cursor !== undefined);
  return out;
}

describe('appending', () => {
  it('numbers the lines of concurrent producers 1..n without gaps, each producer’s lines in its order, each reply naming its own lines', async () => {
    const { admin } = newTenant();
    const runId = await newRun(admin);
    const producers = 4;
    const batches = 6;
    const perBatch = 20;
    const replies = await Promise.all(
      Array.from({ length: producers }, async (_, p) => {
        const got = [];
        for (let b = 0; b < batches; b++) got.push({ b, reply: await append(admin, runId, lines(perBatch, `p${p} b${b}`), { id: `producer-${p}`, batch_seq: b }) });
        return got;
      }),
    );
    const stored = await allLines(admin, runId);
    const total = producers * batches * perBatch;
    expect(stored.map((line) => line.seq)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    for (let p = 0; p < producers; p++) {
      const mine = stored.filter((line) => line.text.startsWith(`p${p} `)).map((line) => line.text);
      expect(mine).toEqual(Array.from({ length: batches }, (_, b) => lines(perBatch, `p${p} b${b}`).map((line) => line.text)).flat());
      for (const { b, reply } of replies[p]) {
        expect(reply).toMatchObject({ accepted: perBatch, truncated: 0, refused: 0, limit_reached: false });
        expect(reply.last_seq - reply.first_seq + 1).toBe(perBatch);
        expect(stored.slice(reply.first_seq - 1, reply.last_seq).map((line) => line.text)).toEqual(lines(perBatch, `p${p} b${b}`).map((line) => line.text));
      }
    }
    // One LogAppended per batch, in seq order, covering every line once.
    await expectEventually(() => expect(fixture.events.filter((e) => e.run_id === runId && e.subject === LogAppended.subject)).toHaveLength(producers * batches));
    const ranges = fixture.events.filter((e) => e.run_id === runId && e.subject === LogAppended.subject).map((e) => e.data as { first_seq: number; last_seq: number });
    let next = 1;
    for (const range of ranges) {
      expect(range.first_seq).toBe(next);
      next = range.last_seq + 1;
    }
    expect(next).toBe(total + 1);
    expect(await bus.request(GetLogState, { scope: admin, run_id: runId })).toMatchObject({ last_seq: total, closed: false, limit_reached: false });
  });

  it('stores a retried producer batch once and answers it with the first reply, also when the retries race', async () => {
    const { admin } = newTenant();
    const runId = await newRun(admin);
    await append(admin, runId, lines(3, 'before'), { id: 'w-1', batch_seq: 1 });
    const producer = { id: 'w-1', batch_seq: 2 };
    const racing = await Promise.all([1, 2, 3].map(() => append(admin, runId, lines(5, 'batch two'), producer)));
    const later = await append(admin, runId, lines(5, 'batch two'), producer);
    expect(racing[0]).toEqual({ first_seq: 4, last_seq: 8, accepted: 5, truncated: 0, refused: 0, limit_reached: false });
    for (const reply of [...racing, later]) expect(reply).toEqual(racing[0]);
    expect((await allLines(admin, runId)).map((line) => line.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    // Another producer may use the same batch_seq: it is a different batch.
    expect(await append(admin, runId, lines(1, 'other'), { id: 'w-2', batch_seq: 2 })).toMatchObject({ first_seq: 9, last_seq: 9 });
  });

  it('keeps level, stream and the producer’s time; defaults level to info', async () => {
    const { admin } = newTenant();
    const runId = await newRun(admin);
    await append(admin, runId, [
      { stream: 'stderr', level: 'error', time: '2030-01-02T03:04:05.678Z', text: 'boom' },
      { stream: 'agent', text: 'thinking' },
      { stream: 'stdout', text: 'tab\there, new\nline, cr\r, back\\slash \\N and \\t as text' },
    ]);
    const stored = await allLines(admin, runId);
    expect(stored[0]).toEqual({ run_id: runId, seq: 1, stream: 'stderr', level: 'error', time: '2030-01-02T03:04:05.678Z', text: 'boom', truncated: false });
    expect(stored[1]).toMatchObject({ seq: 2, stream: 'agent', level: 'info', truncated: false });
    // Stored through COPY: the characters its format uses come back as they were sent.
    expect(stored[2].text).toBe('tab\there, new\nline, cr\r, back\\slash \\N and \\t as text');
  });

  it('takes batches from the work queue (ctx.log’s way), replies once committed, and stores a batch submitted again once', async () => {
    const { admin } = newTenant();
    const runId = await newRun(admin);
    const payload = { tenant_id: admin.tenant_id, run_id: runId, producer: { id: 'worker-1@1', batch_seq: 0 }, lines: lines(3, 'queued') };
    const [first, joined] = await Promise.all([
      bus.submit(AppendLogLines, payload, { messageId: 'worker-1@1/0' }),
      bus.submit(AppendLogLines, payload, { messageId: 'worker-1@1/0' }),
    ]);
    // Committed before the reply: the lines are there as soon as it came.
    expect((await allLines(admin, runId)).map((line) => line.text)).toEqual(['queued 0', 'queued 1', 'queued 2']);
    const again = await bus.submit(AppendLogLines, payload, { messageId: 'worker-1@1/0' });
    expect([first, joined, again]).toEqual([first, first, first]);
    expect(first).toMatchObject({ first_seq: 1, last_seq: 3, accepted: 3 });
    expect(await allLines(admin, runId)).toHaveLength(3);
    // A refusal is the batch's final answer, not a retry.
    expect((await failure(bus.submit(AppendLogLines, { ...payload, run_id: uuidv7() }, { messageId: 'worker-1@1/x' }))).code).toBe(ErrorCode.NOT_FOUND);
  });

  it('refuses a time that ISO 8601 allows but no date-time reads (a week date) as VALIDATION_FAILED, storing nothing', async () => {
    const { admin } = newTenant();
    const runId = await newRun(admin);
    const error = await failure(append(admin, runId, [{ stream: 'stdout', text: 'ok' }, { stream: 'stdout', time: '2026-W47-5', text: 'when?' }]));
    expect(error.code).toBe(ErrorCode.VALIDATION_FAILED);
    expect(error.details?.errors).toEqual([expect.objectContaining({ field: 'lines.1.time' })]);
    expect(await allLines(admin, runId)).toEqual([]);
  });

  it('refuses lines for an unknown run and for a run of another tenant (NOT_FOUND), storing nothing', async () => {
    const { admin } = newTenant();
    const runId = await newRun(admin);
    expect((await failure(append(admin, uuidv7(), lines(1, 'x')))).code).toBe(ErrorCode.NOT_FOUND);
    expect((await failure(append(newTenant().admin, runId, lines(1, 'x')))).code).toBe(ErrorCode.NOT_FOUND);
    expect(await allLines(admin, runId)).toEqual([]);
  });
});

describe('limits', () => {
  it('cuts a line over the per-line limit on a character boundary, with a marker and `truncated`', async () => {
    const { admin } = newTenant();
    const runId = await newRun(admin);
    const long = 'é'.repeat(LOG_LINE_TEXT_MAX_BYTES); // 2 bytes each: twice the limit
    const reply = await append(admin, runId, [{ stream: 'stdout', text: long }, { stream: 'stdout', text: 'short\u0000nul' }]);
    expect(reply).toMatchObject({ accepted: 2, truncated: 1 });
    const [cut, short] = await allLines(admin, runId);
    expect(cut.truncated).toBe(true);
    expect(Buffer.byteLength(cut.text, 'utf8')).toBeLessThanOrEqual(LOG_LINE_TEXT_MAX_BYTES);
    expect(cut.text).toMatch(/^é+ …\[truncated: [0-9]+ bytes\]$/);
    expect(short).toMatchObject({ text: 'short\uFFFDnul', truncated: false });
  });

  it('refuses a batch over the line count (VALIDATION_FAILED) or text bytes (PAYLOAD_TOO_LARGE), storing nothing', async () => {
    const { admin } = newTenant();
    const runId = await newRun(admin);
    expect((await failure(append(admin, runId, lines(LOG_BATCH_MAX_LINES + 1, 'x')))).code).toBe(ErrorCode.VALIDATION_FAILED);
    expect((await failure(append(admin, runId, [{ stream: 'stdout', text: 'x'.repeat(300_000) }, { stream: 'stdout', text: 'y'.repeat(300_000) }]))).code).toBe(
      ErrorCode.PAYLOAD_TOO_LARGE,
    );
    expect((await failure(append(admin, runId, []))).code).toBe(ErrorCode.VALIDATION_FAILED);
    expect(await allLines(admin, runId)).toEqual([]);
  });

  it('ends a full log with one system line, tells the batch that filled it what was refused, and refuses the rest with a clear error', async () => {
    const { admin } = newTenant();
    const runId = await newRun(admin);
    for (let b = 0; b < 4; b++) await append(admin, runId, lines(100, `b${b}`));
    const filling = await append(admin, runId, lines(100, 'b4'));
    expect(filling).toEqual({ first_seq: 401, last_seq: MAX_LINES_PER_RUN, accepted: 99, truncated: 0, refused: 1, limit_reached: true });
    const refused = await failure(append(admin, runId, lines(1, 'late')));
    expect(refused.code).toBe(ErrorCode.PAYLOAD_TOO_LARGE);
    expect(refused.message).toMatch(/reached its limit/);
    const stored = await allLines(admin, runId);
    expect(stored).toHaveLength(MAX_LINES_PER_RUN);
    expect(stored.at(-1)).toMatchObject({ seq: MAX_LINES_PER_RUN, stream: 'system', level: 'warn', text: LOG_LIMIT_MARKER });
    expect(await bus.request(GetLogState, { scope: admin, run_id: runId })).toMatchObject({ last_seq: MAX_LINES_PER_RUN, limit_reached: true });
  });

  it('limits a tenant’s bytes per minute (RATE_LIMITED with a retry time); other tenants are not affected', async () => {
    const { admin } = newTenant();
    const batch = Array.from({ length: 25 }, () => ({ stream: 'stdout' as const, text: 'z'.repeat(16 * 1024) })); // 400 KiB
    for (let i = 0; i < 3; i++) await append(admin, await newRun(admin), batch);
    const limited = await failure(append(admin, await newRun(admin), batch));
    expect(limited.code).toBe(ErrorCode.RATE_LIMITED);
    expect(limited.details?.retryAfterSeconds).toEqual(expect.any(Number));
    const other = newTenant().admin;
    expect(await append(other, await newRun(other), lines(1, 'fine'))).toMatchObject({ accepted: 1 });
  });
});

describe('closing', () => {
  it('closes the log a grace period after the run ended, with its last seq, then refuses lines (RUN_TERMINAL); a run that never logged closes at 0', async () => {
    const { admin } = newTenant();
    const runId = await newRun(admin);
    const silent = await newRun(admin);
    await append(admin, runId, lines(3, 'work'));
    await bus.request(CancelRun, { scope: admin, run_id: runId, body: {} });
    await bus.request(CancelRun, { scope: admin, run_id: silent, body: {} });
    await expectEventually(() => {
      expect(fixture.events.find((e) => e.run_id === runId && e.subject === LogClosed.subject)?.data).toEqual({ run_id: runId, last_seq: 3 });
      expect(fixture.events.find((e) => e.run_id === silent && e.subject === LogClosed.subject)?.data).toEqual({ run_id: silent, last_seq: 0 });
    });
    const refused = await failure(append(admin, runId, lines(1, 'late')));
    expect(refused.code).toBe(ErrorCode.RUN_TERMINAL);
    expect(refused.message).toMatch(/log is closed/);
    expect((await failure(append(admin, silent, lines(1, 'late')))).code).toBe(ErrorCode.RUN_TERMINAL);
    expect(await bus.request(GetLogState, { scope: admin, run_id: runId })).toMatchObject({ last_seq: 3, closed: true });
    expect(await allLines(admin, runId)).toHaveLength(3);
    // The closing event carries the run's owner, so members' streams can see it.
    expect(fixture.events.find((e) => e.run_id === runId && e.subject === LogClosed.subject)).toMatchObject({ tenant_id: admin.tenant_id, owner_id: admin.principal_id });
  });
});

describe('reading', () => {
  it('filters by stream, time range and seq, and pages by cursor', async () => {
    const { admin } = newTenant();
    const runId = await newRun(admin);
    const at = (minute: number) => `2030-01-01T00:${String(minute).padStart(2, '0')}:00.000Z`;
    await append(
      admin,
      runId,
      Array.from({ length: 10 }, (_, i) => ({ stream: i % 2 === 0 ? ('stdout' as const) : ('stderr' as const), time: at(i), text: `line ${i + 1}` })),
    );
    const texts = (found: LogLineView[]) => found.map((line) => line.text);
    expect(texts(await allLines(admin, runId, { stream: 'stderr' }))).toEqual(['line 2', 'line 4', 'line 6', 'line 8', 'line 10']);
    expect(texts(await allLines(admin, runId, { since: at(3), until: at(6) }))).toEqual(['line 4', 'line 5', 'line 6']);
    expect(texts(await allLines(admin, runId, { after_seq: 8 }))).toEqual(['line 9', 'line 10']);
    const first = await bus.request(ListLogLines, { scope: admin, run_id: runId, query: { limit: 4 } });
    expect(first.next_cursor).toBe('4');
    const second = await bus.request(ListLogLines, { scope: admin, run_id: runId, query: { limit: 4, cursor: first.next_cursor! } });
    expect(texts(second.data)).toEqual(['line 5', 'line 6', 'line 7', 'line 8']);
    expect(texts(await allLines(admin, runId, { limit: 3 }))).toHaveLength(10);
    expect((await failure(bus.request(ListLogLines, { scope: admin, run_id: runId, query: { cursor: '1 OR 1=1' } }))).code).toBe(ErrorCode.INVALID_CURSOR);
  });

  it('shows a run’s lines to its owner and the tenant’s admins; other members get NOT_FOUND, other tenants nothing', async () => {
    const tenant = newTenant();
    const owner = tenant.member();
    const runId = await newRun(owner);
    await append(owner, runId, lines(2, 'mine'));
    expect(await allLines(owner, runId)).toHaveLength(2);
    expect(await allLines(tenant.admin, runId)).toHaveLength(2);
    expect((await failure(bus.request(ListLogLines, { scope: tenant.member(), run_id: runId, query: {} }))).code).toBe(ErrorCode.NOT_FOUND);
    expect((await failure(bus.request(GetLogState, { scope: tenant.member(), run_id: runId }))).code).toBe(ErrorCode.NOT_FOUND);
    const stranger = newTenant();
    expect(await allLines(stranger.admin, runId)).toEqual([]);
    expect(await allLines(stranger.member(owner.principal_id), runId)).toEqual([]);
  });
});
