import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplicationContext } from '@nestjs/common';
import {
  AppendMessage,
  CreateSession,
  DomainError,
  ErrorCode,
  GetSession,
  ListMessages,
  ListSessions,
  SessionCreated,
  type AnyCommand,
  type CallerScope,
  type EventEnvelope,
} from '@runyard/contracts';
import { NatsBus, type Bus, type CommandHandlerFn } from '@runyard/messaging';
import { runMigrations } from '@runyard/persistence';
import { createLogger } from '@runyard/runtime';
import { createTestDatabase, deleteNatsNamespace, expectEventually, freePort, recordEvents, testInfra, uniqueName } from '@runyard/testing';
import type { DataSource } from 'typeorm';
import { v7 as uuidv7 } from 'uuid';
import { createSessionsApp, createSessionsDataSource, sessionsReadinessChecks } from './sessions.app.js';

// Distributed mode for real: two replicas of the service (own NATS connections and connection
// pools, one queue group) on PostgreSQL and NATS, and a third connection as the gateway would be.
// Isolated by a database and a NATS namespace (subjects and stream) of this file's own.

interface Replica {
  bus: NatsBus;
  dataSource: DataSource;
  app: INestApplicationContext;
  /** Subject and payload of every command this replica handled. */
  served: { subject: string; payload: unknown }[];
}

const namespace = uniqueName('sessions_it');
const logger = createLogger('sessions-it', 'silent');
let database: Awaited<ReturnType<typeof createTestDatabase>>;
let replicas: Replica[] = [];
let caller: NatsBus;
let healthPort: number;
let recording: Awaited<ReturnType<typeof recordEvents<EventEnvelope>>> | undefined;
let events: EventEnvelope[] = [];

/** The same bus, noting each command it hands to this replica's handlers. */
function recordingBus(bus: Bus, served: Replica['served']): Bus {
  return {
    request: (command, payload, options) => bus.request(command, payload, options),
    handle: <C extends AnyCommand>(command: C, queueGroup: string, handler: CommandHandlerFn<C>) =>
      bus.handle(command, queueGroup, (payload, ctx) => {
        served.push({ subject: command.subject, payload });
        return handler(payload, ctx);
      }),
    submit: (command, payload, options) => bus.submit(command, payload, options),
    work: (command, options) => bus.work(command, options),
    publish: (envelope, headers) => bus.publish(envelope, headers),
    consume: (options) => bus.consume(options),
    tail: (options) => bus.tail(options),
    eventLog: () => bus.eventLog(),
    status: () => bus.status(),
    close: () => bus.close(),
  };
}

async function startReplica(index: number, httpPort?: number): Promise<Replica> {
  const bus = await NatsBus.connect({ servers: testInfra.natsUrl, name: `sessions-it-${index}`, namespace });
  const dataSource = createSessionsDataSource({ kind: 'postgres', url: database.url });
  await dataSource.initialize();
  const served: Replica['served'] = [];
  const app = await createSessionsApp(
    { bus: recordingBus(bus, served), dataSource, logger },
    { httpPort, readinessChecks: sessionsReadinessChecks({ bus, dataSource }) },
  );
  return { bus, dataSource, app, served };
}

beforeAll(async () => {
  database = await createTestDatabase('sessions_it');
  const migrator = createSessionsDataSource({ kind: 'postgres', url: database.url });
  await migrator.initialize();
  await runMigrations(migrator);
  await migrator.destroy();
  healthPort = await freePort();
  replicas = [await startReplica(1, healthPort), await startReplica(2)];
  caller = await NatsBus.connect({ servers: testInfra.natsUrl, name: 'sessions-it-caller', namespace });
  recording = await recordEvents<EventEnvelope>(caller, 'sessions-it', 'sessions.evt.>');
  events = recording.events;
}, 60_000);

afterAll(async () => {
  await recording?.stop();
  for (const replica of replicas) {
    await replica.app.close();
    await replica.bus.close();
    await replica.dataSource.destroy();
  }
  await caller?.close();
  await deleteNatsNamespace(testInfra.natsUrl, namespace);
  await database?.drop();
}, 60_000);

function tenantAdmin(): CallerScope {
  return { tenant_id: uuidv7(), principal_id: uuidv7(), role: 'admin' };
}

function servedTitles(replica: Replica): string[] {
  return replica.served
    .filter((entry) => entry.subject === CreateSession.subject)
    .map((entry) => (entry.payload as { body: { title: string } }).body.title);
}

describe('sessions service, two replicas on PostgreSQL and NATS', () => {
  it('shares requests between the replicas and answers each exactly once', async () => {
    const admin = tenantAdmin();
    const titles = Array.from({ length: 40 }, (_, i) => `request-${i}`);
    const created = await Promise.all(titles.map((title) => caller.request(CreateSession, { scope: admin, body: { title } })));
    expect(created.map((session) => session.title)).toEqual(titles);

    const [first, second] = replicas.map(servedTitles) as [string[], string[]];
    expect(first.length).toBeGreaterThan(0);
    expect(second.length).toBeGreaterThan(0);
    expect([...first, ...second].sort()).toEqual([...titles].sort());

    const listed = await caller.request(ListSessions, { scope: admin, query: { limit: 200 } });
    expect(listed.data.map((session) => session.id).sort()).toEqual(created.map((session) => session.id).sort());
    expect(await caller.request(GetSession, { scope: admin, session_id: created[0].id })).toEqual(created[0]);
  }, 30_000);

  it('publishes each change’s event exactly once', async () => {
    const admin = tenantAdmin();
    const created = await Promise.all(Array.from({ length: 20 }, (_, i) => caller.request(CreateSession, { scope: admin, body: { title: `evented-${i}` } })));
    const ids = created.map((session) => session.id).sort();
    const createdEvents = (): EventEnvelope[] => events.filter((event) => event.tenant_id === admin.tenant_id && event.subject === SessionCreated.subject);
    await expectEventually(() => expect(createdEvents().map((event) => event.session_id).sort()).toEqual(ids), { timeoutMs: 20_000 });
    for (const session of created) {
      expect(createdEvents().find((event) => event.session_id === session.id)).toMatchObject({ owner_id: admin.principal_id, data: session });
    }

    // Events published after these arrive after them: once a later one is in, a duplicate would be too.
    const marker = await caller.request(CreateSession, { scope: admin, body: { title: 'marker' } });
    await expectEventually(() => expect(createdEvents().some((event) => event.session_id === marker.id)).toBe(true), { timeoutMs: 20_000 });
    expect(createdEvents()).toHaveLength(21);
    expect(new Set(createdEvents().map((event) => event.id)).size).toBe(21);
  }, 40_000);

  it('numbers concurrent appends through both replicas 1..n without gaps or duplicates', async () => {
    const admin = tenantAdmin();
    const session = await caller.request(CreateSession, { scope: admin, body: {} });
    const before = replicas.map((replica) => replica.served.length);
    const appended = await Promise.all(
      Array.from({ length: 50 }, (_, i) => caller.request(AppendMessage, { scope: admin, session_id: session.id, body: { role: 'user', content: `m${i}` } })),
    );
    const expected = Array.from({ length: 50 }, (_, i) => i + 1);
    expect(appended.map((message) => message.seq).sort((a, b) => a - b)).toEqual(expected);
    replicas.forEach((replica, i) => expect(replica.served.length).toBeGreaterThan(before[i]));
    const listed = await caller.request(ListMessages, { scope: admin, session_id: session.id, query: { limit: 200 } });
    expect(listed.data.map((message) => message.seq)).toEqual(expected);
    expect((await caller.request(GetSession, { scope: admin, session_id: session.id })).message_count).toBe(50);
  }, 30_000);

  it('carries coded errors back to the caller', async () => {
    const error = await caller.request(GetSession, { scope: tenantAdmin(), session_id: uuidv7() }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(DomainError);
    expect((error as DomainError).code).toBe(ErrorCode.NOT_FOUND);
  });

  it('serves /healthz and /readyz on the health port', async () => {
    const healthz = await fetch(`http://127.0.0.1:${healthPort}/healthz`);
    expect(healthz.status).toBe(200);
    const readyz = await fetch(`http://127.0.0.1:${healthPort}/readyz`);
    expect(readyz.status).toBe(200);
    expect(await readyz.json()).toMatchObject({
      status: 'ready',
      checks: [
        { name: 'database', ok: true },
        { name: 'bus', ok: true },
      ],
    });
  });
});
