import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplicationContext } from '@nestjs/common';
import { CreateSession, ListMessages, RunMessagePosted, type CallerScope, type ChatMessageView, type RunMessageData } from '@runyard/contracts';
import { NatsBus, newEvent } from '@runyard/messaging';
import { runMigrations } from '@runyard/persistence';
import { createLogger } from '@runyard/runtime';
import { createTestDatabase, deleteNatsNamespace, expectEventually, testInfra, uniqueName } from '@runyard/testing';
import type { DataSource } from 'typeorm';
import { v7 as uuidv7 } from 'uuid';
import { createSessionsApp, createSessionsDataSource } from '../sessions.app.js';

// Distributed mode: two sessions replicas on PostgreSQL and NATS share the durable consumer of
// RunMessagePosted; however often a run's message is published, and whichever replica gets each
// delivery, the chat gets it once. Isolated by a database and a NATS namespace of this file's own.
interface Replica {
  bus: NatsBus;
  dataSource: DataSource;
  app: INestApplicationContext;
}

const namespace = uniqueName('runmsg_it');
const logger = createLogger('run-messages-it', 'silent');
let database: Awaited<ReturnType<typeof createTestDatabase>>;
let replicas: Replica[] = [];
let publisher: NatsBus;

async function startReplica(index: number): Promise<Replica> {
  const bus = await NatsBus.connect({ servers: testInfra.natsUrl, name: `run-messages-it-${index}`, namespace });
  const dataSource = createSessionsDataSource({ kind: 'postgres', url: database.url });
  await dataSource.initialize();
  const app = await createSessionsApp({ bus, dataSource, logger });
  return { bus, dataSource, app };
}

beforeAll(async () => {
  database = await createTestDatabase('runmsg_it');
  const migrator = createSessionsDataSource({ kind: 'postgres', url: database.url });
  await migrator.initialize();
  await runMigrations(migrator);
  await migrator.destroy();
  publisher = await NatsBus.connect({ servers: testInfra.natsUrl, name: 'run-messages-it-runs', namespace });
  replicas = [await startReplica(1), await startReplica(2)];
}, 60_000);

afterAll(async () => {
  for (const replica of replicas) {
    await replica.app.close();
    await replica.bus.close();
    await replica.dataSource.destroy();
  }
  await publisher?.close();
  await deleteNatsNamespace(testInfra.natsUrl, namespace);
  await database?.drop();
}, 60_000);

describe('run messages over NATS, two sessions replicas', () => {
  it('records each (run, key) once, however often it is published', async () => {
    const alice: CallerScope = { tenant_id: uuidv7(), principal_id: uuidv7(), role: 'member' };
    const session = await publisher.request(CreateSession, { scope: alice, body: {} });
    const runId = uuidv7();
    const refs = { tenant_id: alice.tenant_id, owner_id: alice.principal_id, session_id: session.id, run_id: runId };
    const data = (key: string, content: string): RunMessageData => ({ run_id: runId, session_id: session.id, key, content, metadata: {} });
    // Every message three times as separate events (a retried post each), interleaved.
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 10; i++) await publisher.publish(newEvent(RunMessagePosted, refs, data(`part-${i}`, `part ${i}`)));
    }
    // Delivered in stream order, one at a time across the replicas: once the last is recorded, every duplicate was handled.
    await publisher.publish(newEvent(RunMessagePosted, refs, data('done', 'done')));
    const contents = [...Array.from({ length: 10 }, (_, i) => `part ${i}`), 'done'];
    const messages = async (): Promise<ChatMessageView[]> => (await publisher.request(ListMessages, { scope: alice, session_id: session.id, query: { limit: 200 } })).data;
    await expectEventually(async () => expect((await messages()).at(-1)?.content).toBe('done'), { timeoutMs: 15_000 });
    expect((await messages()).map((message) => message.content)).toEqual(contents);
    expect((await messages()).map((message) => [message.seq, message.role, message.run_id])).toEqual(contents.map((_, i) => [i + 1, 'assistant', runId]));
  }, 30_000);
});
