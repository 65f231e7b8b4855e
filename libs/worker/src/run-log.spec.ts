import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { DomainError, ErrorCode } from '@runyard/contracts';
import { InProcessBus } from '@runyard/messaging';
import { expectEventually } from '@runyard/testing';
import { randomUUID } from 'node:crypto';
import { LogSink } from './log-sink.fixture.js';
import { logProducerId, RunLog, type RunLogSettings } from './run-log.js';
import type { WorkerLogger } from './worker-logger.js';

// ctx.log's writer against the append contract of the transcripts service (in memory, in-process bus).
let bus: InProcessBus;
let sink: LogSink;

beforeEach(async () => {
  bus = new InProcessBus();
  sink = await LogSink.start(bus);
});

afterEach(() => bus.close());

/** A writer for a new run; batches go out only by size or on flush() unless the test sets an interval. */
function writer(settings: Partial<RunLogSettings> = {}): { log: RunLog; runId: string } {
  const runId = randomUUID();
  const log = new RunLog({ bus, tenantId: randomUUID(), runId, producerId: logProducerId('w-1', 1), flushIntervalMs: 3_600_000, retryDelayMs: 5, ...settings });
  return { log, runId };
}

function warnings(): { logger: WorkerLogger; seen: { context: Record<string, unknown>; message: string }[] } {
  const seen: { context: Record<string, unknown>; message: string }[] = [];
  const ignore = () => undefined;
  return { seen, logger: { debug: ignore, info: ignore, error: ignore, warn: (context, message) => seen.push({ context, message }) } };
}

describe('RunLog (ctx.log)', () => {
  it('delivers lines in the order written, in batches numbered 0, 1, 2… of one producer, stored as seqs 1..n without gaps', async () => {
    const { log, runId } = writer({ maxBatchLines: 500 });
    for (let i = 0; i < 1234; i++) void log.append(`line ${i}`, i % 2 === 0 ? { stream: 'stdout' } : { stream: 'stderr', level: 'warn' });
    await log.flush();

    const stored = sink.lines(runId);
    expect(stored.map((line) => line.text)).toEqual(Array.from({ length: 1234 }, (_, i) => `line ${i}`));
    expect(stored.map((line) => line.seq)).toEqual(Array.from({ length: 1234 }, (_, i) => i + 1));
    expect(stored[1]).toMatchObject({ stream: 'stderr', level: 'warn' });
    expect(sink.received.map(({ producerId, batchSeq, lines }) => ({ producerId, batchSeq, lines }))).toEqual([
      { producerId: 'w-1@1', batchSeq: 0, lines: 500 },
      { producerId: 'w-1@1', batchSeq: 1, lines: 500 },
      { producerId: 'w-1@1', batchSeq: 2, lines: 234 },
    ]);
    expect(log.acknowledged).toBe(1234);
    expect(log.buffered).toBe(0);
  });

  it('keeps the batches of two runs apart when their producer ids coincide (lease tokens are per run)', async () => {
    const first = writer();
    const second = writer();
    await first.log.append('first run');
    await second.log.append('second run');
    await Promise.all([first.log.flush(), second.log.flush()]);
    expect(sink.lines(first.runId).map((line) => line.text)).toEqual(['first run']);
    expect(sink.lines(second.runId).map((line) => line.text)).toEqual(['second run']);
  });

  it('defaults to the agent stream at level info', async () => {
    const { log, runId } = writer();
    await log.append('thinking');
    await log.flush();
    expect(sink.lines(runId)).toEqual([expect.objectContaining({ seq: 1, stream: 'agent', level: 'info', text: 'thinking' })]);
  });

  it('sends a batch once it holds maxBatchLines lines, without a flush or a timer', async () => {
    const { log, runId } = writer({ maxBatchLines: 10 });
    for (let i = 0; i < 9; i++) await log.append(`line ${i}`);
    expect(sink.received).toHaveLength(0);
    await log.append('line 9');
    await expectEventually(() => expect(sink.lines(runId)).toHaveLength(10));
    expect(sink.received).toHaveLength(1);
  });

  it('sends a batch once it holds maxBatchBytes of text', async () => {
    const { log, runId } = writer({ maxBatchBytes: 1000 });
    await log.append('x'.repeat(600));
    expect(sink.received).toHaveLength(0);
    await log.append('y'.repeat(600));
    // The first line alone fits; the second waits for the next batch.
    await expectEventually(() => expect(sink.lines(runId).map((line) => line.text.length)).toEqual([600]));
  });

  it('sends what is waiting flushIntervalMs after the first line, without a flush', async () => {
    const { log, runId } = writer({ flushIntervalMs: 50 });
    await log.append('alone');
    await expectEventually(() => expect(sink.lines(runId).map((line) => line.text)).toEqual(['alone']));
    expect(log.acknowledged).toBe(1);
  });

  it('stores a batch delivered again after a failure past its commit once, and is acknowledged once', async () => {
    const { log, runId } = writer();
    sink.failAfterStoring(2);
    for (let i = 0; i < 5; i++) await log.append(`line ${i}`);
    await log.flush();
    await log.append('after');
    await log.flush();

    expect(sink.received.map(({ batchSeq, lines }) => ({ batchSeq, lines }))).toEqual([
      { batchSeq: 0, lines: 5 },
      { batchSeq: 0, lines: 5 },
      { batchSeq: 0, lines: 5 },
      { batchSeq: 1, lines: 1 },
    ]);
    expect(sink.lines(runId).map((line) => `${line.seq}:${line.text}`)).toEqual(['1:line 0', '2:line 1', '3:line 2', '4:line 3', '5:line 4', '6:after']);
    expect(log.acknowledged).toBe(6);
  });

  it('keeps every line while the service is down, holds writers back past its bound, and delivers all once it is back', async () => {
    await sink.down();
    const { logger, seen } = warnings();
    const { log, runId } = writer({ maxBufferedLines: 10, logger, requestTimeoutMs: 50 });
    const resolved: number[] = [];
    const appends = Array.from({ length: 15 }, (_, i) => log.append(`line ${i}`).then(() => resolved.push(i)));
    const flushed = log.flush();
    // The first nine had room; from the tenth on, the buffer is at its bound.
    await expectEventually(() => expect(resolved).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]));
    await expectEventually(() => expect(seen.map((warning) => warning.message)).toContain('log batch not acknowledged; retrying it'));
    // The batch waits in the queue; the writer keeps waiting for it (each retry joins the queued batch).
    expect(seen[0].context).toMatchObject({ code: ErrorCode.UPSTREAM_TIMEOUT });
    expect(log.buffered).toBe(15);

    await sink.up();
    await flushed;
    await Promise.all(appends);
    expect(resolved).toHaveLength(15);
    expect(sink.lines(runId).map((line) => line.text)).toEqual(Array.from({ length: 15 }, (_, i) => `line ${i}`));
    expect(log.refused).toBe(0);
  });

  it('retries a rate-limited batch after the time the service names, as a new work-queue message', async () => {
    let calls = 0;
    const messageIds: string[] = [];
    const { log, runId } = writer({
      send: (payload, options) => {
        calls++;
        messageIds.push(options.messageId);
        if (calls === 1) return Promise.reject(new DomainError(ErrorCode.RATE_LIMITED, 'slow down', { retryAfterSeconds: 0.05 }));
        return Promise.resolve({ first_seq: 1, last_seq: payload.lines.length, accepted: payload.lines.length, truncated: 0, refused: 0, limit_reached: false });
      },
    });
    await log.append('once');
    await log.flush();
    expect(calls).toBe(2);
    expect(log.acknowledged).toBe(1);
    // The answered message is done with: the same id would be that handled command again.
    expect(messageIds).toEqual([`${runId}/w-1@1/0`, `${runId}/w-1@1/0/1`]);
  });

  it('reports lines the service refuses for good (closed log) with their count, and refuses later lines the same way', async () => {
    const { logger, seen } = warnings();
    const { log } = writer({ logger, send: () => Promise.reject(new DomainError(ErrorCode.RUN_TERMINAL, 'log closed')) });
    await log.append('late 1');
    await log.append('late 2');
    await log.flush();
    await log.append('later');
    await log.flush();
    expect(seen).toEqual([{ message: 'log lines refused by the transcripts service', context: expect.objectContaining({ code: ErrorCode.RUN_TERMINAL, lines: 2 }) }]);
    expect(log.refused).toBe(3);
  });

  it('gives up what is still buffered when abandoned, saying how many lines, and releases every waiter', async () => {
    await sink.down();
    const { logger, seen } = warnings();
    const { log } = writer({ maxBufferedLines: 2, logger });
    const waiting = [log.append('a'), log.append('b'), log.append('c')];
    const flushed = log.flush();
    log.abandon('lease lost');
    await flushed;
    await Promise.all(waiting);
    expect(seen.at(-1)).toEqual({ message: 'log lines not delivered: the run is no longer this worker’s', context: expect.objectContaining({ lines: 3, reason: 'lease lost' }) });
    expect(log.refused).toBe(3);
  });

  it('cuts a line too long for one batch, with a marker saying how much was cut', async () => {
    const { log, runId } = writer();
    await log.append('é'.repeat(200_000));
    await log.flush();
    const [line] = sink.lines(runId);
    expect(line.text).toMatch(/ …\[truncated: \d+ bytes\]$/);
    const kept = line.text.replace(/ …\[truncated: \d+ bytes\]$/, '');
    expect(kept).toBe('é'.repeat(kept.length));
    expect(Buffer.byteLength(kept) + Number(/(\d+) bytes\]$/.exec(line.text)![1])).toBe(400_000);
  });

  it('names the producer by worker id and claim, within the contract’s 200 characters', () => {
    expect(logProducerId('worker-a', 7)).toBe('worker-a@7');
    const long = logProducerId('w'.repeat(200), 123);
    expect(long).toHaveLength(200);
    expect(long.endsWith('@123')).toBe(true);
  });
});
