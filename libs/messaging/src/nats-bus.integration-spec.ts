import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from '@jest/globals';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { defineCommand, DomainError, ErrorCode } from '@runyard/contracts';
import { expectEventually, freePort, testInfra, uniqueName } from '@runyard/testing';
import { IsString } from 'class-validator';
import { runBusContract } from './bus.contract.js';
import { NatsBus } from './nats-bus.js';

// One namespace for this file: its subjects and its stream are invisible to every other test file.
const namespace = uniqueName('msgtest');
const streamsToDelete = new Set<string>();

async function connectBus(label: string, servers = testInfra.natsUrl, ns = namespace): Promise<NatsBus> {
  const bus = await NatsBus.connect({ servers, name: `${label}-${namespace}`, namespace: ns });
  if (servers === testInfra.natsUrl) streamsToDelete.add(bus.streamName);
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

runBusContract('NatsBus', async () => {
  const bus = await connectBus('contract-a');
  const bus2 = await connectBus('contract-b');
  return {
    bus,
    bus2,
    cleanup: async () => {
      await Promise.all([bus.close(), bus2.close()]);
    },
  };
});

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
    } finally {
      await Promise.all([bus.close(), nc.close()]);
    }
  });
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
});
