import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { defineCommand, defineEvent, type EventEnvelope } from '@runyard/contracts';
import { createTestDatabase, deleteNatsNamespace, expectEventually, testInfra, uniqueName } from '@runyard/testing';
import { IsInt, IsString } from 'class-validator';
import { DataSource } from 'typeorm';
import type { Bus, MessageHeaders } from '../bus.js';
import { InProcessBus } from '../in-process-bus.js';
import type { MessagingLogger } from '../messaging-logger.js';
import { NatsBus } from '../nats-bus.js';
import { parseTraceparent, runWithTraceContext, startTrace, traceContext } from '../trace-context.js';
import { CreateOutboxEvents1763600000000 } from './1763600000000-CreateOutboxEvents.js';
import { newEvent } from './new-event.js';
import { OutboxEventEntity } from './outbox-event.entity.js';
import { OutboxRelay } from './outbox-relay.service.js';
import { TransactionalOutbox } from './transactional-outbox.service.js';

// One trace from a caller through a handler, the request it makes, the event it commits through the
// outbox, and a durable consumer of that event — over both bus adapters, with a real PostgreSQL.

const SCHEMA = 'trace_test';
const TENANT = '0190a5f1-0000-7000-8000-00000000000b';

class Order {
  @IsString()
  note!: string;
}
class Placed {
  @IsInt()
  n!: number;
}
interface Seen {
  traceId: string | null;
  headers: MessageHeaders;
}

const quiet: MessagingLogger = { log: () => undefined, warn: () => undefined, error: () => undefined };

describe.each([
  ['InProcessBus', (): Promise<Bus> => Promise.resolve(new InProcessBus({ logger: quiet }))],
  ['NatsBus', (): Promise<Bus> => NatsBus.connect({ servers: testInfra.natsUrl, name: 'trace-test', namespace: uniqueName('tracetest'), logger: quiet })],
])('trace propagation over %s', (_name, connectBus) => {
  let database: { url: string; drop(): Promise<void> };
  let dataSource: DataSource;
  let bus: Bus;
  let relay: OutboxRelay;

  beforeAll(async () => {
    database = await createTestDatabase('trace');
    const source = new DataSource({
      type: 'postgres',
      url: database.url,
      schema: SCHEMA,
      extra: { options: `-c search_path=${SCHEMA}` },
      entities: [OutboxEventEntity],
      migrations: [CreateOutboxEvents1763600000000],
      migrationsTableName: 'migrations',
    });
    dataSource = await source.initialize();
    await dataSource.query(`CREATE SCHEMA IF NOT EXISTS ${SCHEMA}`);
    await dataSource.runMigrations();
    bus = await connectBus();
    relay = new OutboxRelay(dataSource, bus, { pollIntervalMs: 20, logger: quiet });
    relay.start();
  });

  afterAll(async () => {
    await relay?.stop();
    await bus?.close();
    if (bus instanceof NatsBus) await deleteNatsNamespace(testInfra.natsUrl, bus.namespace);
    await dataSource?.destroy();
    await database?.drop();
  });

  const registrations: Array<{ stop(): Promise<void> }> = [];
  afterEach(async () => {
    await Promise.all(registrations.splice(0).map((r) => r.stop()));
  });

  it("carries the caller's trace id into the handler, its nested request, its outbox event and the event's consumer", async () => {
    const family = uniqueName('f').toLowerCase();
    const PlaceOrder = defineCommand<{ ok: boolean }>()(`tracetest.cmd.${family}.place.v1`, Order);
    const Reserve = defineCommand<Seen>()(`tracetest.cmd.${family}.reserve.v1`, Order);
    const Notify = defineCommand<Seen>()(`tracetest.cmd.${family}.notify.v1`, Order);
    const OrderPlaced = defineEvent(`tracetest.evt.${family}.placed.v1`, Placed);
    const outbox = new TransactionalOutbox(dataSource, relay);
    const seen: Record<string, Seen> = {};
    const answerTrace = (_payload: Order, ctx: { headers: MessageHeaders }) => Promise.resolve({ traceId: traceContext()?.traceId ?? null, headers: ctx.headers });

    registrations.push(await bus.handle(Reserve, 'stock', answerTrace));
    registrations.push(await bus.handle(Notify, 'mail', answerTrace));
    registrations.push(
      await bus.handle(PlaceOrder, 'orders', async (_payload, ctx) => {
        seen.handler = { traceId: traceContext()?.traceId ?? null, headers: ctx.headers };
        seen.nested = await bus.request(Reserve, { note: 'reserve' });
        await outbox.run((_tx, events) => Promise.resolve(events.add(newEvent(OrderPlaced, { tenant_id: TENANT }, { n: 1 }))));
        return { ok: true };
      }),
    );
    const consumed: Array<{ envelope: EventEnvelope; headers: MessageHeaders; traceId: string | null; notified: Seen }> = [];
    registrations.push(
      await bus.consume({
        durable: uniqueName('trace'),
        filterSubject: OrderPlaced.subject,
        handler: async (event) => {
          const traceId = traceContext()?.traceId ?? null;
          // What a consumer asks of another service while handling the event stays in the trace too.
          const notified = await bus.request(Notify, { note: 'notify' });
          consumed.push({ envelope: event.envelope, headers: event.headers, traceId, notified });
        },
      }),
    );
    const caller = startTrace();

    await runWithTraceContext(caller, () => bus.request(PlaceOrder, { note: 'one' }));

    await expectEventually(() => expect(consumed).toHaveLength(1));
    const [event] = consumed;
    expect(seen.handler.traceId).toBe(caller.traceId);
    expect(seen.nested.traceId).toBe(caller.traceId);
    expect(parseTraceparent(seen.nested.headers.traceparent)?.traceId).toBe(caller.traceId);
    expect(event.envelope.trace_id).toBe(caller.traceId);
    expect(parseTraceparent(event.headers.traceparent)?.traceId).toBe(caller.traceId);
    expect(event.traceId).toBe(caller.traceId);
    expect(event.notified.traceId).toBe(caller.traceId);
    // Every hop names a span of its own.
    const parents = [seen.handler.headers.traceparent, seen.nested.headers.traceparent, event.headers.traceparent, event.notified.headers.traceparent].map(
      (header) => parseTraceparent(header)?.parentId,
    );
    expect(new Set(parents).size).toBe(4);
  });
});
