import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from '@jest/globals';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { defineCommand, defineEvent, DomainError, ErrorCode } from '@runyard/contracts';
import { expectEventually, freePort, type PrivateNats, startPrivateNats, testInfra, uniqueName } from '@runyard/testing';
import { IsInt, IsString } from 'class-validator';
import { runBusContract } from './bus.contract.js';
import type { LoggedEvent } from './bus.js';
import { NatsBus, type NatsBusOptions } from './nats-bus.js';
import { newEvent } from './outbox/new-event.js';

// One namespace for this file: its subjects and its stream are invisible to every other test file.
const namespace = uniqueName('msgtest');
const streamsToDelete = new Set<string>();

async function connectBus(label: string, servers = testInfra.natsUrl, ns = namespace, options: Partial<NatsBusOptions> = {}): Promise<NatsBus> {
  const bus = await NatsBus.connect({ servers, name: `${label}-${namespace}`, namespace: ns, ...options });
  if (servers === testInfra.natsUrl) for (const stream of bus.streamNames()) streamsToDelete.add(stream);
  return bus;
}

afterAll(async () => {
  const nc = await connect({ servers: testInfra.natsUrl });
  try {
    const jsm = await jetstreamManager(nc);
    for (const stream of streamsToDelete) await jsm.streams.delete(stream);
  } finally {
    await nc.close();
  }
});

runBusContract(
  'NatsBus',
  async () => {
    const bus = await connectBus('contract-a');
    const bus2 = await connectBus('contract-b');
    return {
      bus,
      bus2,
      cleanup: async () => {
        await Promise.all([bus.close(), bus2.close()]);
      },
    };
  },
  // A stream of its own (a fresh namespace), so its size limit touches no other test's events.
  async (maxEvents) => {
    const bus = await connectBus('contract-bounded', testInfra.natsUrl, uniqueName('msgtest_bounded'), { maxMessages: maxEvents });
    return { bus, cleanup: () => bus.close() };
  },
);

class PingPayload {
  @IsString()
  text!: string;
}
const Ping = defineCommand<{ pong: string }>()('msgtest.cmd.ping.send.v1', PingPayload);

describe('NatsBus', () => {
  it('namespaces wire subjects and the stream, so two namespaces on one server never see each other', async () => {
    const other = uniqueName('msgtest_other');
    const mine = await connectBus('ns-mine');
    const theirs = await connectBus('ns-theirs', testInfra.natsUrl, other);
    streamsToDelete.add(theirs.streamName);
    try {
      await mine.handle(Ping, 'msgtest', (p) => Promise.resolve({ pong: `mine:${p.text}` }));

      expect(mine.streamName).toBe(`${namespace}_events`);
      await expect(mine.request(Ping, { text: 'x' })).resolves.toEqual({ pong: 'mine:x' });
      await expect(theirs.request(Ping, { text: 'x' })).rejects.toMatchObject({ code: ErrorCode.SERVICE_UNAVAILABLE });
    } finally {
      await Promise.all([mine.close(), theirs.close()]);
    }
  });

  it('keeps the stream settings the design asks for', async () => {
    const bus = await connectBus('settings');
    const nc = await connect({ servers: testInfra.natsUrl });
    try {
      const { config } = await (await jetstreamManager(nc)).streams.info(bus.streamName);
      expect(config.subjects).toEqual([`${namespace}.*.evt.>`]);
      expect(config.storage).toBe('file');
      expect(config.duplicate_window).toBe(120_000_000_000);
      expect(config.max_age).toBe(7 * 24 * 3600 * 1_000_000_000);
      expect(config.max_msgs).toBe(-1);
    } finally {
      await Promise.all([bus.close(), nc.close()]);
    }
  });
});

class TailedData {
  @IsInt()
  n!: number;
}
const Tailed = defineEvent('msgtest.evt.tail.happened.v1', TailedData);
const TENANT = '0190a5f1-0000-7000-8000-000000000003';
const tailed = (n: number) => newEvent(Tailed, { tenant_id: TENANT }, { n });
const idsOf = (events: LoggedEvent[]) => events.map((e) => e.envelope.id);

describe('NatsBus tails', () => {
  let bus: NatsBus | undefined;

  afterEach(async () => {
    await bus?.close();
    bus = undefined;
  });

  async function consumerNames(stream: string): Promise<string[]> {
    const nc = await connect({ servers: testInfra.natsUrl });
    try {
      return (await (await jetstreamManager(nc)).consumers.list(stream).next()).map((c) => c.name);
    } finally {
      await nc.close();
    }
  }

  it('leaves no consumer on the server once its tails have stopped (nor the probe of a time start)', async () => {
    const own = await connectBus('tail-cleanup', testInfra.natsUrl, uniqueName('msgtest_tails'));
    bus = own;
    await own.publish(tailed(1));
    const received: LoggedEvent[] = [];
    const tails = await Promise.all([
      own.tail({ filterSubject: 'msgtest.evt.>', start: { kind: 'time', time: new Date(0) }, handler: (e) => Promise.resolve(void received.push(e)) }),
      own.tail({ filterSubject: 'msgtest.evt.>', start: { kind: 'new' }, handler: () => Promise.resolve() }),
    ]);
    await expectEventually(() => expect(received).toHaveLength(1));
    expect(await consumerNames(own.streamName)).toHaveLength(2);

    await Promise.all(tails.map((t) => t.stop()));

    expect(await consumerNames(own.streamName)).toEqual([]);
  });

  it('pulls a bounded number of bytes ahead of a stalled tail, not a hundred messages', async () => {
    const own = await connectBus('tail-bytes', testInfra.natsUrl, uniqueName('msgtest_tailbytes'));
    bus = own;
    const count = 20;
    const pad = 'x'.repeat(500_000);
    for (let n = 0; n < count; n++) await own.publish(newEvent(Tailed, { tenant_id: TENANT }, { n, pad } as TailedData));
    let release!: () => void;
    const stalled = new Promise<void>((resolve) => (release = resolve));
    const received: LoggedEvent[] = [];
    const tail = await own.tail({
      filterSubject: 'msgtest.evt.>',
      start: { kind: 'after', sequence: 0 },
      handler: async (e) => {
        received.push(e);
        await stalled;
      },
    });
    const nc = await connect({ servers: testInfra.natsUrl });
    try {
      const jsm = await jetstreamManager(nc);
      // The client's first pull has been served (no request left waiting) and it asks for no more while
      // its reader is stuck on the first event: what was delivered is all the process holds.
      const info = await expectEventually(async () => {
        const [consumer] = await jsm.consumers.list(own.streamName).next();
        expect(consumer).toBeDefined();
        expect(consumer.delivered.stream_seq).toBeGreaterThan(1);
        expect(consumer.num_waiting).toBe(0);
        expect(received).toHaveLength(1);
        return consumer;
      });
      // 4 × max_payload (1 MiB) of 500 kB events: 8, where a count of 100 would have taken all 20.
      expect(info.delivered.stream_seq).toBeLessThanOrEqual(9);
      expect(info.num_pending).toBeGreaterThan(0);

      release();
      await expectEventually(() => expect(received).toHaveLength(count));
      expect(received.map((e) => e.sequence)).toEqual(Array.from({ length: count }, (_, i) => i + 1));
    } finally {
      release();
      await tail.stop();
      await nc.close();
    }
  });

  it('ends a running tail when its stream is deleted, and a recreated stream has a new epoch', async () => {
    const ns = uniqueName('msgtest_epoch');
    const own = await connectBus('tail-epoch', testInfra.natsUrl, ns);
    bus = own;
    await own.publish(tailed(1));
    const before = await own.eventLog();
    const received: LoggedEvent[] = [];
    const tail = await own.tail({ filterSubject: 'msgtest.evt.>', start: { kind: 'after', sequence: 0 }, handler: (e) => Promise.resolve(void received.push(e)) });
    await expectEventually(() => expect(received).toHaveLength(1));

    const nc = await connect({ servers: testInfra.natsUrl });
    try {
      await (await jetstreamManager(nc)).streams.delete(own.streamName);
    } finally {
      await nc.close();
    }

    await expect(tail.ended).rejects.toThrow(/event log .* was (deleted|recreated)/);
    const recreated = await connectBus('tail-epoch-again', testInfra.natsUrl, ns);
    try {
      const after = await recreated.eventLog();
      expect(after).toEqual({ epoch: expect.any(String), firstSequence: 1, lastSequence: 0 });
      expect(after.epoch).not.toBe(before.epoch);
    } finally {
      await recreated.close();
    }
  });
});

describe('NatsBus tails across a NATS restart', () => {
  let nats: PrivateNats | undefined;
  let bus: NatsBus | undefined;

  afterEach(async () => {
    await bus?.close();
    await nats?.dispose();
  });

  it('keeps every tail going, each event once and in order, when the client recreates its ordered consumer', async () => {
    nats = await startPrivateNats();
    const own = await NatsBus.connect({ servers: nats.url, name: 'tail-restart', namespace });
    bus = own;
    const [e1, e2, e3, e4] = [1, 2, 3, 4].map(tailed);
    await own.publish(e1);
    await own.publish(e2);
    const fromStart: LoggedEvent[] = [];
    const fromNew: LoggedEvent[] = [];
    let endedEarly = false;
    const tails = await Promise.all([
      own.tail({ filterSubject: 'msgtest.evt.>', start: { kind: 'after', sequence: 0 }, handler: (e) => Promise.resolve(void fromStart.push(e)) }),
      // Has seen nothing when the server restarts: it must not fall back to replaying the stream.
      own.tail({ filterSubject: 'msgtest.evt.>', start: { kind: 'new' }, handler: (e) => Promise.resolve(void fromNew.push(e)) }),
    ]);
    for (const tail of tails) void tail.ended.finally(() => (endedEarly = true));
    await expectEventually(() => expect(fromStart).toHaveLength(2));
    const epoch = (await own.eventLog()).epoch;

    await nats.stop();
    await expectEventually(() => expect(own.status().connected).toBe(false));
    await nats.start();
    // publish() dedupes by event id, so retrying until the connection is back is safe.
    await expectEventually(() => own.publish(e3), { timeoutMs: 20_000, intervalMs: 200 });
    await own.publish(e4);

    await expectEventually(() => expect(idsOf(fromStart)).toContain(e4.id), { timeoutMs: 20_000 });
    await expectEventually(() => expect(idsOf(fromNew)).toContain(e4.id), { timeoutMs: 20_000 });
    expect(idsOf(fromStart)).toEqual([e1, e2, e3, e4].map((e) => e.id));
    expect(fromStart.map((e) => e.sequence)).toEqual([1, 2, 3, 4]);
    expect(idsOf(fromNew)).toEqual([e3.id, e4.id]);
    expect((await own.eventLog()).epoch).toBe(epoch);
    expect(endedEarly).toBe(false);
  }, 60_000);
});

describe('NatsBus during a NATS outage', () => {
  let server: ChildProcess | undefined;
  let storeDir: string | undefined;
  let bus: NatsBus | undefined;

  function startServer(port: number, dir: string): ChildProcess {
    const child = spawn('nats-server', ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', dir], { stdio: 'ignore' });
    child.on('error', (error) => {
      throw error;
    });
    return child;
  }

  async function stopServer(child: ChildProcess): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await exited;
  }

  afterEach(async () => {
    await bus?.close();
    if (server) await stopServer(server);
    if (storeDir) await rm(storeDir, { recursive: true, force: true });
  });

  it('fails requests fast with SERVICE_UNAVAILABLE while NATS is down and recovers by itself', async () => {
    const port = await freePort();
    storeDir = await mkdtemp(path.join(tmpdir(), 'runyard-nats-'));
    server = startServer(port, storeDir);
    bus = await NatsBus.connect({ servers: `nats://127.0.0.1:${port}`, name: 'outage', namespace });
    await bus.handle(Ping, 'msgtest', (p) => Promise.resolve({ pong: p.text }));
    await expect(bus.request(Ping, { text: 'before' })).resolves.toEqual({ pong: 'before' });

    await stopServer(server);
    const started = Date.now();
    const error = await bus.request(Ping, { text: 'during' }, { timeoutMs: 10_000 }).then(
      () => undefined,
      (e: unknown) => e,
    );

    expect(error).toBeInstanceOf(DomainError);
    expect((error as DomainError).code).toBe(ErrorCode.SERVICE_UNAVAILABLE);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(bus.status().connected).toBe(false);

    server = startServer(port, storeDir);
    const restarted = bus;
    await expectEventually(async () => expect(await restarted.request(Ping, { text: 'after' }, { timeoutMs: 1000 })).toEqual({ pong: 'after' }), {
      timeoutMs: 20_000,
      intervalMs: 200,
    });
    expect(bus.status().connected).toBe(true);
  }, 30_000);

  it('keeps a submitted command through a NATS restart, handles it once, and answers the resubmit', async () => {
    const port = await freePort();
    storeDir = await mkdtemp(path.join(tmpdir(), 'runyard-nats-'));
    server = startServer(port, storeDir);
    const servers = `nats://127.0.0.1:${port}`;
    bus = await NatsBus.connect({ servers, name: 'outage-work', namespace });
    const submitted = bus.submit(Ping, { text: 'kept' }, { messageId: 'batch-1', timeoutMs: 20_000 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    // Stored in the work stream (no worker runs yet) before NATS goes down.
    const observer = await connect({ servers });
    const workStream = `${namespace}_work`;
    await expectEventually(async () => expect((await (await jetstreamManager(observer)).streams.info(workStream)).state.messages).toBe(1));
    await observer.close();

    await stopServer(server);
    expect(((await submitted) as DomainError).code).toBe(ErrorCode.SERVICE_UNAVAILABLE);
    server = startServer(port, storeDir);
    const restarted = bus;
    await expectEventually(() => expect(restarted.status().connected).toBe(true), { timeoutMs: 20_000, intervalMs: 100 });

    const handled: string[] = [];
    await bus.work(Ping, {
      durable: 'outage-worker',
      handler: (payload) => {
        handled.push(payload.text);
        return Promise.resolve({ pong: payload.text });
      },
    });
    expect(await bus.submit(Ping, { text: 'kept' }, { messageId: 'batch-1', timeoutMs: 10_000 })).toEqual({ pong: 'kept' });
    expect(handled).toEqual(['kept']);
  }, 40_000);
});
