import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplicationContext } from '@nestjs/common';
import {
  AppendLogLines,
  CancelRun,
  CreateRun,
  ErrorCode,
  GetRunTrace,
  ListLogLines,
  LogAppended,
  LogClosed,
  RecordTraceSpans,
  type AnyCommand,
  type CallerScope,
  type EventEnvelope,
  type LogLineView,
} from '@runyard/contracts';
import { NatsBus, newSpanId, newTraceId, type Bus, type CommandHandlerFn } from '@runyard/messaging';
import { runMigrations } from '@runyard/persistence';
import { createRunsApp, createRunsDataSource } from '@runyard/runs';
import { failure, newTenant } from '@runyard/runs/testing';
import { createLogger } from '@runyard/runtime';
import { createSessionsApp, createSessionsDataSource } from '@runyard/sessions';
import { createTestDatabase, deleteNatsNamespace, expectEventually, recordEvents, testInfra, uniqueName } from '@runyard/testing';
import type { DataSource } from 'typeorm';
import { v7 as uuidv7 } from 'uuid';
import { createTranscriptsApp, createTranscriptsDataSource } from './transcripts.app.js';

// Distributed mode for real: two transcripts replicas (own NATS connections and pools, one queue
// group) on PostgreSQL and NATS, next to the runs and sessions services. Isolated by a database and a
// NATS namespace of this file's own.

const namespace = uniqueName('transcripts_it');
const logger = createLogger('transcripts-it', 'silent');
let database: Awaited<ReturnType<typeof createTestDatabase>>;
const closers: (() => Promise<unknown>)[] = [];
let caller: NatsBus;
/** Appends each replica served. */
const served: number[] = [0, 0];
let recording: Awaited<ReturnType<typeof recordEvents<EventEnvelope>>> | undefined;

function countingBus(bus: Bus, replica: number): Bus {
  return {
    ...bus,
    request: (command, payload, options) => bus.request(command, payload, options),
    handle: <C extends AnyCommand>(command: C, queueGroup: string, handler: CommandHandlerFn<C>) =>
      bus.handle(command, queueGroup, (payload, ctx) => {
        if (command.subject === AppendLogLines.subject) served[replica] += 1;
        return handler(payload, ctx);
      }),
    submit: (command, payload, options) => bus.submit(command, payload, options),
    work: (command, options) =>
      bus.work(command, {
        ...options,
        handler: (payload, ctx) => {
          if (command.subject === AppendLogLines.subject) served[replica] += 1;
          return options.handler(payload, ctx);
        },
      }),
    publish: (envelope, headers) => bus.publish(envelope, headers),
    consume: (options) => bus.consume(options),
    tail: (options) => bus.tail(options),
    eventLog: () => bus.eventLog(),
    status: () => bus.status(),
    close: () => bus.close(),
  };
}

async function connect(name: string): Promise<NatsBus> {
  const bus = await NatsBus.connect({ servers: testInfra.natsUrl, name, namespace });
  closers.push(() => bus.close());
  return bus;
}

async function migrated(ds: DataSource): Promise<DataSource> {
  await runMigrations(ds);
  closers.push(() => ds.destroy());
  return ds;
}

beforeAll(async () => {
  database = await createTestDatabase();
  const target = { kind: 'postgres' as const, url: database.url, poolMax: 5 };
  closers.push(() => deleteNatsNamespace(testInfra.natsUrl, namespace));
  const sessionsApp: INestApplicationContext = await createSessionsApp({ bus: await connect('sessions'), dataSource: await migrated(createSessionsDataSource(target)), logger });
  closers.push(() => sessionsApp.close());
  const runsApp: INestApplicationContext = await createRunsApp({ bus: await connect('runs'), dataSource: await migrated(createRunsDataSource(target)), logger });
  closers.push(() => runsApp.close());
  for (const replica of [0, 1]) {
    const bus = countingBus(await connect(`transcripts-${replica}`), replica);
    const app = await createTranscriptsApp({ bus, dataSource: await migrated(createTranscriptsDataSource(target)), logger }, { logs: { closeGraceMs: 200, closeSweepIntervalMs: 50 } });
    closers.push(() => app.close());
  }
  caller = await connect('caller');
  recording = await recordEvents<EventEnvelope>(caller, uniqueName('it_recorder'), 'transcripts.evt.>');
}, 60_000);

afterAll(async () => {
  await recording?.stop();
  for (const close of closers.reverse()) await close().catch(() => undefined);
  await database?.drop();
});

async function newRun(scope: CallerScope): Promise<string> {
  return (await caller.request(CreateRun, { scope, body: { route: { executor: `x-${uuidv7()}` } } })).id;
}

async function allLines(scope: CallerScope, runId: string): Promise<LogLineView[]> {
  const out: LogLineView[] = [];
  let cursor: string | undefined;
  do {
    const page = await caller.request(ListLogLines, { scope, run_id: runId, query: { limit: 200, ...(cursor ? { cursor } : {}) } });
    out.push(...page.data);
    cursor = page.next_cursor ?? undefined;
  } while (cursor !== undefined);
  return out;
}

/** A line's text; with the characters COPY's format escapes, which must come back as sent. */
const line = (p: number, b: number, i: number): string => `p${p} b${b} l${i}\ttab \\ back\nslash`;

describe('run logs on two replicas', () => {
  it('numbers concurrent producers’ lines 1..n without gaps across replicas, through the work queue or by request, and stores a retried batch once', async () => {
    const { admin } = newTenant();
    const runId = await newRun(admin);
    const before = [...served];
    const producers = 6;
    const batches = 8;
    const perBatch = 25;
    await Promise.all(
      Array.from({ length: producers }, async (_, p) => {
        for (let b = 0; b < batches; b++) {
          const batch = { tenant_id: admin.tenant_id, run_id: runId, producer: { id: `p-${p}`, batch_seq: b }, lines: Array.from({ length: perBatch }, (_, i) => ({ stream: 'stdout' as const, text: line(p, b, i) })) };
          // Workers' way (the JetStream work queue) for half the producers, the HTTP producers' way (a
          // request) for the others. Every batch is sent twice at once, as a retrying producer would.
          const send = () =>
            p % 2 === 0 ? caller.submit(AppendLogLines, batch, { messageId: `${runId}/p-${p}/${b}`, timeoutMs: 10_000 }) : caller.request(AppendLogLines, batch);
          const [first, retry] = await Promise.all([send(), send()]);
          expect(retry).toEqual(first);
        }
      }),
    );
    const stored = await allLines(admin, runId);
    expect(stored.map((line) => line.seq)).toEqual(Array.from({ length: producers * batches * perBatch }, (_, i) => i + 1));
    for (let p = 0; p < producers; p++) {
      const expected = Array.from({ length: batches }, (_, b) => Array.from({ length: perBatch }, (_, i) => line(p, b, i))).flat();
      expect(stored.filter((line) => line.text.startsWith(`p${p} `)).map((line) => line.text)).toEqual(expected);
    }
    expect(served[0] - before[0]).toBeGreaterThan(0);
    expect(served[1] - before[1]).toBeGreaterThan(0);
    await expectEventually(() => {
      const ranges = recording!.events.filter((e) => e.run_id === runId && e.subject === LogAppended.subject).map((e) => e.data as { first_seq: number; last_seq: number });
      expect(ranges.reduce((sum, r) => sum + r.last_seq - r.first_seq + 1, 0)).toBe(producers * batches * perBatch);
    });
  });

  it('closes a log once when its run ends, then refuses its lines', async () => {
    const { admin } = newTenant();
    const runId = await newRun(admin);
    await caller.request(AppendLogLines, { tenant_id: admin.tenant_id, run_id: runId, lines: [{ stream: 'system', text: 'hello' }] });
    await caller.request(CancelRun, { scope: admin, run_id: runId, body: {} });
    await expectEventually(() => expect(recording!.events.filter((e) => e.run_id === runId && e.subject === LogClosed.subject).map((e) => e.data)).toEqual([{ run_id: runId, last_seq: 1 }]));
    expect((await failure(caller.request(AppendLogLines, { tenant_id: admin.tenant_id, run_id: runId, lines: [{ stream: 'system', text: 'late' }] }))).code).toBe(ErrorCode.RUN_TERMINAL);
  });
});

describe('run traces on two replicas', () => {
  it('shows a run’s trace to its owner and an admin; another member asking the service directly gets NOT_FOUND', async () => {
    const { admin, member } = newTenant();
    const owner = member();
    const runId = await newRun(owner);
    const traceId = newTraceId();
    const root = { trace_id: traceId, span_id: newSpanId(), name: 'run', kind: 'internal' as const, start_time: '2030-01-01T00:00:00.000Z', status: 'unset' as const };
    const child = { ...root, span_id: newSpanId(), parent_span_id: root.span_id, name: 'call tool', kind: 'tool_call' as const, start_time: '2030-01-01T00:00:00.010Z' };
    // The first batches race (each replica may ask the runs service and open the trace row): both are kept once.
    await Promise.all([
      caller.request(RecordTraceSpans, { tenant_id: owner.tenant_id, run_id: runId, spans: [root] }),
      caller.request(RecordTraceSpans, { tenant_id: owner.tenant_id, run_id: runId, spans: [child] }),
    ]);

    const shape = { run_id: runId, trace_id: traceId, span_count: 2, spans: [expect.objectContaining({ name: 'run', children: [expect.objectContaining({ name: 'call tool' })] })] };
    expect(await caller.request(GetRunTrace, { scope: owner, run_id: runId })).toMatchObject(shape);
    expect(await caller.request(GetRunTrace, { scope: admin, run_id: runId })).toMatchObject(shape);
    expect(await failure(caller.request(GetRunTrace, { scope: member(), run_id: runId }))).toMatchObject({ code: ErrorCode.NOT_FOUND, message: `run ${runId} not found` });
    // A run the runs service does not know takes no spans.
    const unknown = uuidv7();
    expect((await failure(caller.request(RecordTraceSpans, { tenant_id: owner.tenant_id, run_id: unknown, spans: [{ ...root, span_id: newSpanId() }] }))).code).toBe(ErrorCode.NOT_FOUND);
  });
});
