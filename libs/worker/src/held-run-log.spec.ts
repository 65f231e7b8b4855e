import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { AppendLogLines, CompleteRun, CreateRun, GetRun, type CallerScope, type RunView } from '@runyard/contracts';
import { newTenant, startRunsFixture, uniqueExecutor, type RunsFixture } from '@runyard/runs/testing';
import { expectEventually } from '@runyard/testing';
import type { Executor } from './executor.js';
import { echoExecutor } from './executors/echo.executor.js';
import { LogSink } from './log-sink.fixture.js';
import { RecordingBus } from './recording-bus.fixture.js';
import { Worker } from './worker.js';

// ctx.log inside a worker: the real runs service (embedded Postgres + in-process bus) and the
// transcripts service's append contract in memory.
let fixture: RunsFixture;
let sink: LogSink;
const workers: Worker[] = [];

beforeAll(async () => {
  fixture = await startRunsFixture();
  sink = await LogSink.start(fixture.bus);
}, 60_000);

afterEach(async () => {
  await sink.up();
  await Promise.all(workers.splice(0).map((worker) => worker.stop()));
});

afterAll(() => fixture.close());

async function startWorker(executor: string, run: Executor): Promise<{ bus: RecordingBus; workerId: string }> {
  const bus = new RecordingBus(fixture.bus);
  const workerId = `log-${workers.length}-${Date.now()}`;
  const worker = new Worker({ bus, workerId, executors: { [executor]: run } });
  workers.push(worker);
  await worker.start();
  return { bus, workerId };
}

function statusOf(scope: CallerScope, runId: string, status: RunView['status']): Promise<RunView> {
  return expectEventually(async () => {
    const run = await fixture.bus.request(GetRun, { scope, run_id: runId });
    expect(run.status).toBe(status);
    return run;
  });
}

describe('ctx.log', () => {
  it('delivers the run’s lines in order, under the claim’s producer id, before the run is reported completed', async () => {
    const { admin } = newTenant();
    const executor = uniqueExecutor();
    const { bus, workerId } = await startWorker(executor, async (ctx) => {
      await ctx.log('starting', { stream: 'system' });
      await ctx.log('working', { stream: 'stdout' });
      void ctx.log('done: not awaited, still delivered');
      return { ok: true };
    });
    const run = await fixture.bus.request(CreateRun, { scope: admin, body: { input: 'go', route: { executor } } });
    await statusOf(admin, run.id, 'completed');

    expect(sink.lines(run.id).map(({ seq, stream, text }) => `${seq} ${stream} ${text}`)).toEqual([
      '1 system starting',
      '2 stdout working',
      '3 agent done: not awaited, still delivered',
    ]);
    expect(sink.received.filter((batch) => batch.runId === run.id).map((batch) => batch.producerId)).toEqual([`${workerId}@1`]);
    // The append was acknowledged before the completion went out.
    const sent = bus.about(run.id).map(({ subject, outcome }) => `${subject} ${outcome}`);
    expect(sent.indexOf(`${AppendLogLines.subject} ok`)).toBeGreaterThanOrEqual(0);
    expect(sent.indexOf(`${AppendLogLines.subject} ok`)).toBeLessThan(sent.indexOf(`${CompleteRun.subject} ok`));
  });

  it('holds the run’s completion while the transcripts service is down, and completes it once the lines are delivered', async () => {
    const { admin } = newTenant();
    const executor = uniqueExecutor();
    const { bus } = await startWorker(executor, async (ctx) => {
      await ctx.log('written while the transcripts service is down');
      return {};
    });
    await sink.down();
    const run = await fixture.bus.request(CreateRun, { scope: admin, body: { input: 'go', route: { executor } } });
    // The batch is queued and its commit awaited.
    await expectEventually(() => expect(bus.about(run.id)).toContainEqual({ subject: AppendLogLines.subject, outcome: undefined }));
    expect((await fixture.bus.request(GetRun, { scope: admin, run_id: run.id })).status).toBe('running');
    expect(bus.about(run.id).map(({ subject }) => subject)).not.toContain(CompleteRun.subject);

    await sink.up();
    await statusOf(admin, run.id, 'completed');
    expect(sink.lines(run.id).map((line) => line.text)).toEqual(['written while the transcripts service is down']);
  });

  it('echo logs one agent line', async () => {
    const { admin } = newTenant();
    const executor = uniqueExecutor();
    await startWorker(executor, echoExecutor);
    const run = await fixture.bus.request(CreateRun, { scope: admin, body: { input: 'hello', route: { executor } } });
    await statusOf(admin, run.id, 'completed');
    expect(sink.lines(run.id)).toEqual([expect.objectContaining({ seq: 1, stream: 'agent', level: 'info', text: 'echo: replying with 5 characters' })]);
  });
});
