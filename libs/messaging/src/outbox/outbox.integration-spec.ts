import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { type AnyCommand, defineEvent, DomainError, ErrorCode, type EventEnvelope, type PayloadOf, type ReplyOf } from '@runyard/contracts';
import { createTestDatabase, expectEventually, uniqueName } from '@runyard/testing';
import { IsInt, IsString } from 'class-validator';
import { DataSource } from 'typeorm';
import { v7 as uuidv7 } from 'uuid';
import { BUS, type Bus, type BusStatus, CommandHandlerFn, ConsumeOptions, DeliveredEvent, type EventLogInfo, MessageHeaders, Registration, RequestOptions, type SubmitOptions, type Tail, type TailOptions, type WorkOptions } from '../bus.js';
import { InProcessBus } from '../in-process-bus.js';
import type { MessagingLogger } from '../messaging-logger.js';
import { CreateOutboxEvents1763600000000 } from './1763600000000-CreateOutboxEvents.js';
import { newEvent } from './new-event.js';
import { OutboxEventEntity } from './outbox-event.entity.js';
import { OutboxRelay, type OutboxRelayOptions } from './outbox-relay.service.js';
import { MAX_EVENT_BYTES, TransactionalOutbox } from './transactional-outbox.service.js';

const SCHEMA = 'outbox_test';
const TENANT = '0190a5f1-0000-7000-8000-00000000000a';

class ThingData {
  @IsInt()
  n!: number;

  @IsString()
  note!: string;
}

/** A real bus with a fault switch, that records every publish the relay made. */
class ObservedBus implements Bus {
  failing = false;
  attempts = 0;
  readonly published: EventEnvelope[] = [];

  constructor(private readonly inner: Bus) {}

  async publish(envelope: EventEnvelope, headers?: MessageHeaders): Promise<void> {
    this.attempts += 1;
    if (this.failing) throw new DomainError(ErrorCode.SERVICE_UNAVAILABLE, 'Messaging is unavailable (test fault)');
    await new Promise((resolve) => setImmediate(resolve)); // lets concurrent relays interleave, as a network would
    await this.inner.publish(envelope, headers);
    this.published.push(envelope);
  }
  request<C extends AnyCommand>(command: C, payload: PayloadOf<C>, options?: RequestOptions): Promise<ReplyOf<C>> {
    return this.inner.request(command, payload, options);
  }
  handle<C extends AnyCommand>(command: C, queueGroup: string, handler: CommandHandlerFn<C>): Promise<Registration> {
    return this.inner.handle(command, queueGroup, handler);
  }
  submit<C extends AnyCommand>(command: C, payload: PayloadOf<C>, options: SubmitOptions): Promise<ReplyOf<C>> {
    return this.inner.submit(command, payload, options);
  }
  work<C extends AnyCommand>(command: C, options: WorkOptions<C>): Promise<Registration> {
    return this.inner.work(command, options);
  }
  consume(options: ConsumeOptions): Promise<Registration> {
    return this.inner.consume(options);
  }

  tail(options: TailOptions): Promise<Tail> {
    return this.inner.tail(options);
  }

  eventLog(): Promise<EventLogInfo> {
    return this.inner.eventLog();
  }
  status(): BusStatus {
    return this.inner.status();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

function recordingLogger(): MessagingLogger & { lines: string[] } {
  const lines: string[] = [];
  const record = (message: unknown) => void lines.push(String(message));
  return { lines, log: record, warn: record, error: record };
}

async function openDataSource(url: string): Promise<DataSource> {
  const dataSource = new DataSource({
    type: 'postgres',
    url,
    schema: SCHEMA,
    extra: { options: `-c search_path=${SCHEMA}` },
    entities: [OutboxEventEntity],
    migrations: [CreateOutboxEvents1763600000000],
    migrationsTableName: 'migrations',
  });
  return dataSource.initialize();
}

describe('Transactional outbox (PostgreSQL)', () => {
  let database: { url: string; drop(): Promise<void> };
  let dataSource: DataSource;
  const cleanups: Array<() => Promise<void>> = [];

  beforeAll(async () => {
    database = await createTestDatabase('outbox');
    dataSource = await openDataSource(database.url);
    await dataSource.query(`CREATE SCHEMA IF NOT EXISTS ${SCHEMA}`);
    await dataSource.runMigrations();
    await dataSource.query(`CREATE TABLE things (id uuid PRIMARY KEY, note text NOT NULL)`);
  });

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  afterAll(async () => {
    await dataSource?.destroy();
    await database?.drop();
  });

  /** A relay + outbox pair on `source`, started, stopped after the test. */
  function relayOn(source: DataSource, bus: Bus, options: OutboxRelayOptions = {}): { relay: OutboxRelay; outbox: TransactionalOutbox } {
    const relay = new OutboxRelay(source, bus, { pollIntervalMs: 20, maxBackoffMs: 100, logger: recordingLogger(), ...options });
    relay.start();
    cleanups.push(() => relay.stop());
    return { relay, outbox: new TransactionalOutbox(source, relay) };
  }

  /** A fresh in-process bus with a consumer of this test's own event family. */
  async function busWithConsumer(): Promise<{ inner: InProcessBus; observed: ObservedBus; received: DeliveredEvent[]; Thing: ReturnType<typeof thingEvent> }> {
    const inner = new InProcessBus();
    cleanups.push(() => inner.close());
    const family = uniqueName('t').toLowerCase();
    const received: DeliveredEvent[] = [];
    await inner.consume({ durable: 'probe', filterSubject: `outboxtest.evt.${family}.>`, handler: (e) => Promise.resolve(void received.push(e)) });
    return { inner, observed: new ObservedBus(inner), received, Thing: thingEvent(family) };
  }

  function thingEvent(family: string) {
    return defineEvent(`outboxtest.evt.${family}.created.v1`, ThingData);
  }

  async function publishedAtOf(ids: string[]): Promise<Array<Date | null>> {
    const rows: Array<{ id: string; published_at: Date | null }> = await dataSource.query(
      `SELECT id, published_at FROM outbox_events WHERE id = ANY($1::uuid[]) ORDER BY id`,
      [ids],
    );
    return rows.map((row) => row.published_at);
  }

  it('publishes exactly the events of committed work, in order, right after commit', async () => {
    const { observed, received, Thing } = await busWithConsumer();
    // A poll interval far beyond the test: only the nudge after commit can publish in time.
    const { outbox } = relayOn(dataSource, observed, { pollIntervalMs: 60_000 });
    const thingId = uuidv7();
    const events = [1, 2, 3].map((n) => newEvent(Thing, { tenant_id: TENANT, session_id: thingId }, { n, note: `thing ${n}` }));

    const result = await outbox.run(async (tx, collector) => {
      await tx.query(`INSERT INTO things (id, note) VALUES ($1, 'committed')`, [thingId]);
      collector.add(events[0], { traceparent: '00-trace-span-01' });
      collector.add(events[1]);
      collector.add(events[2]);
      return 'done';
    });

    expect(result).toBe('done');
    await expectEventually(() => expect(received).toHaveLength(3), { timeoutMs: 5000 });
    expect(received.map((e) => e.envelope)).toEqual(events);
    expect(received[0].headers).toEqual({ traceparent: '00-trace-span-01' });
    await expectEventually(async () => expect((await publishedAtOf(events.map((e) => e.id))).every((at) => at !== null)).toBe(true));
    const [row]: Array<{ subject: string; tenant_id: string }> = await dataSource.query(
      `SELECT subject, tenant_id FROM outbox_events WHERE id = $1`,
      [events[0].id],
    );
    expect(row).toEqual({ subject: Thing.subject, tenant_id: TENANT });
  });

  it('publishes nothing for a rolled-back transaction', async () => {
    const { observed, received, Thing } = await busWithConsumer();
    const { outbox } = relayOn(dataSource, observed);
    const doomedId = uuidv7();
    const doomed = newEvent(Thing, { tenant_id: TENANT }, { n: 1, note: 'never' });

    const failure = outbox.run(async (tx, collector) => {
      await tx.query(`INSERT INTO things (id, note) VALUES ($1, 'rolled back')`, [doomedId]);
      collector.add(doomed);
      throw new DomainError(ErrorCode.CONFLICT, 'changed my mind');
    });
    await expect(failure).rejects.toMatchObject({ code: ErrorCode.CONFLICT });

    // Events are relayed in id order: once a later marker is out, the doomed one would be too.
    const marker = newEvent(Thing, { tenant_id: TENANT }, { n: 2, note: 'marker' });
    await outbox.run((_tx, collector) => Promise.resolve(collector.add(marker)));
    await expectEventually(() => expect(received.map((e) => e.envelope.id)).toContain(marker.id));
    expect(received.map((e) => e.envelope.id)).toEqual([marker.id]);
    expect(observed.published.map((e) => e.id)).not.toContain(doomed.id);
    expect(await dataSource.query(`SELECT id FROM things WHERE id = $1`, [doomedId])).toEqual([]);
    expect(await publishedAtOf([doomed.id])).toEqual([]);
  });

  it('keeps events unpublished while the bus fails and publishes them once it recovers', async () => {
    const { observed, received, Thing } = await busWithConsumer();
    observed.failing = true;
    const logger = recordingLogger();
    const { outbox } = relayOn(dataSource, observed, { logger });
    const events = [1, 2].map((n) => newEvent(Thing, { tenant_id: TENANT }, { n, note: `confidential-${n}` }));

    await outbox.run((_tx, collector) => Promise.resolve(events.forEach((e) => collector.add(e))));

    await expectEventually(() => expect(observed.attempts).toBeGreaterThanOrEqual(3)); // retried, with backoff
    expect(await publishedAtOf(events.map((e) => e.id))).toEqual([null, null]);
    expect(received).toEqual([]);
    expect(logger.lines.some((line) => line.includes('publishing failed'))).toBe(true);
    expect(logger.lines.join('\n')).not.toContain('confidential');

    observed.failing = false;
    await expectEventually(() => expect(received.map((e) => e.envelope.id)).toEqual(events.map((e) => e.id)));
    await expectEventually(async () => expect((await publishedAtOf(events.map((e) => e.id))).every((at) => at !== null)).toBe(true));
  });

  it('lets two relays on one table publish each event exactly once, in order', async () => {
    const { observed, received, Thing } = await busWithConsumer();
    const replica = await openDataSource(database.url);
    cleanups.push(() => replica.destroy());
    const a = relayOn(dataSource, observed, { pollIntervalMs: 5, batchSize: 7 });
    const b = relayOn(replica, observed, { pollIntervalMs: 5, batchSize: 7 });
    const sent: EventEnvelope[] = [];

    for (let batch = 0; batch < 20; batch++) {
      const outbox = batch % 2 === 0 ? a.outbox : b.outbox;
      await outbox.run((_tx, collector) => {
        for (let i = 0; i < 6; i++) {
          const envelope = newEvent(Thing, { tenant_id: TENANT }, { n: batch * 6 + i, note: 'x' });
          sent.push(envelope);
          collector.add(envelope);
        }
        return Promise.resolve();
      });
    }

    await expectEventually(() => expect(received).toHaveLength(sent.length), { timeoutMs: 15_000 });
    expect(observed.published.map((e) => e.id)).toEqual(sent.map((e) => e.id));
    expect(received.map((e) => e.envelope.id)).toEqual(sent.map((e) => e.id));
  });

  it('prunes published rows older than the retention', async () => {
    const { observed, received, Thing } = await busWithConsumer();
    const { outbox } = relayOn(dataSource, observed, { retentionMs: 0, pruneIntervalMs: 0 });
    const envelope = newEvent(Thing, { tenant_id: TENANT }, { n: 1, note: 'short-lived' });

    await outbox.run((_tx, collector) => Promise.resolve(collector.add(envelope)));

    await expectEventually(() => expect(received).toHaveLength(1));
    await expectEventually(async () => expect(await publishedAtOf([envelope.id])).toEqual([]));
  });

  it('works as plain Nest providers: listing the classes is enough to relay from bootstrap', async () => {
    const { inner, received, Thing } = await busWithConsumer();
    @Module({
      providers: [{ provide: DataSource, useValue: dataSource }, { provide: BUS, useValue: inner }, OutboxRelay, TransactionalOutbox],
    })
    class ServiceModule {}
    const app = await NestFactory.createApplicationContext(ServiceModule, { logger: false });
    await app.init();
    const envelope = newEvent(Thing, { tenant_id: TENANT }, { n: 1, note: 'via nest' });

    await app.get(TransactionalOutbox).run((_tx, collector) => Promise.resolve(collector.add(envelope)));
    await expectEventually(() => expect(received.map((e) => e.envelope.id)).toEqual([envelope.id]));
    await app.close();
  });

  it('refuses an event too large to publish, committing nothing', async () => {
    const { observed, received, Thing } = await busWithConsumer();
    const { outbox } = relayOn(dataSource, observed);
    const thingId = uuidv7();
    const huge = newEvent(Thing, { tenant_id: TENANT }, { n: 1, note: 'x'.repeat(MAX_EVENT_BYTES) });
    const attempt = outbox.run(async (tx, collector) => {
      await tx.query(`INSERT INTO things (id, note) VALUES ($1, 'too big')`, [thingId]);
      collector.add(huge);
    });
    await expect(attempt).rejects.toMatchObject({ code: ErrorCode.PAYLOAD_TOO_LARGE });
    expect(await dataSource.query(`SELECT id FROM things WHERE id = $1`, [thingId])).toEqual([]);
    // The relay is not stalled: the next event goes out.
    const next = newEvent(Thing, { tenant_id: TENANT }, { n: 2, note: 'small' });
    await outbox.run((_tx, collector) => Promise.resolve(collector.add(next)));
    await expectEventually(() => expect(received.map((e) => e.envelope.id)).toEqual([next.id]));
  });

  it('refuses an event added after its transaction ended', async () => {
    const { observed, Thing } = await busWithConsumer();
    const { outbox } = relayOn(dataSource, observed);
    let late: { add(envelope: EventEnvelope): void } | undefined;

    await outbox.run((_tx, collector) => {
      late = collector;
      return Promise.resolve();
    });

    expect(() => late!.add(newEvent(Thing, { tenant_id: TENANT }, { n: 1, note: 'late' }))).toThrow(/after its transaction ended/);
  });
});
