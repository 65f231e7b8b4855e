import { describe, expect, it, jest } from '@jest/globals';
import { defineEvent, DomainError, ErrorCode } from '@runyard/contracts';
import { expectEventually } from '@runyard/testing';
import { IsInt } from 'class-validator';
import { runBusContract } from './bus.contract.js';
import type { DeliveredEvent, LoggedEvent } from './bus.js';
import { InProcessBus } from './in-process-bus.js';
import { newEvent } from './outbox/new-event.js';

runBusContract(
  'InProcessBus',
  () => {
    const bus = new InProcessBus();
    return Promise.resolve({ bus, cleanup: () => bus.close() });
  },
  (maxEvents) => {
    const bus = new InProcessBus({ maxRetainedEvents: maxEvents });
    return Promise.resolve({ bus, cleanup: () => bus.close() });
  },
);

class Ping {
  @IsInt()
  n!: number;
}
const Pinged = defineEvent('unit.evt.ping.sent.v1', Ping);
const TENANT = '0190a5f1-0000-7000-8000-000000000002';

describe('InProcessBus', () => {
  it('forgets event ids once the duplicate window has passed, as JetStream does', async () => {
    const bus = new InProcessBus({ duplicateWindowMs: 0 });
    const envelope = newEvent(Pinged, { tenant_id: TENANT }, { n: 1 });
    await bus.publish(envelope);
    await bus.publish(envelope);
    const received: DeliveredEvent[] = [];
    await bus.consume({ durable: 'window', filterSubject: 'unit.evt.>', handler: (e) => Promise.resolve(void received.push(e)) });

    await expectEventually(() => expect(received.map((e) => e.sequence)).toEqual([1, 2]));
    await bus.close();
  });

  it('redelivers a nak’ed event even when its timer fires before Date.now() says it is due', async () => {
    const bus = new InProcessBus();
    const realNow = Date.now.bind(Date);
    const lagging = jest.spyOn(Date, 'now');
    await bus.publish(newEvent(Pinged, { tenant_id: TENANT }, { n: 1 }));
    const counts: number[] = [];
    try {
      await bus.consume({
        durable: 'lagging-clock',
        filterSubject: 'unit.evt.>',
        handler: async (e) => {
          counts.push(e.deliveryCount);
          if (e.deliveryCount === 1) {
            await e.nak(50);
            // From here the wall clock reads 20 ms behind the timers' clock.
            lagging.mockImplementation(() => realNow() - 20);
          }
        },
      });

      await expectEventually(() => expect(counts).toEqual([1, 2]));
    } finally {
      lagging.mockRestore();
      await bus.close();
    }
  });

  it('refuses work once closed and reports itself disconnected', async () => {
    const bus = new InProcessBus();
    await bus.close();

    expect(bus.status().connected).toBe(false);
    const publish = bus.publish(newEvent(Pinged, { tenant_id: TENANT }, { n: 1 }));
    await expect(publish).rejects.toBeInstanceOf(DomainError);
    await expect(publish).rejects.toMatchObject({ code: ErrorCode.SERVICE_UNAVAILABLE });
  });

  it('starts a new epoch with every instance (a standalone restart starts a new log)', async () => {
    const first = new InProcessBus();
    const second = new InProcessBus();
    const [a, b] = [await first.eventLog(), await second.eventLog()];

    expect(a.epoch).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(b.epoch).not.toBe(a.epoch);
    await Promise.all([first.close(), second.close()]);
  });

  it('keeps 100,000 events by default and refuses a retention limit that is not a positive integer', async () => {
    const bus = new InProcessBus();
    for (let n = 0; n < 100_001; n++) await bus.publish(newEvent(Pinged, { tenant_id: TENANT }, { n }));

    expect(await bus.eventLog()).toEqual({ epoch: expect.any(String), firstSequence: 2, lastSequence: 100_001 });
    expect(() => new InProcessBus({ maxRetainedEvents: 0 })).toThrow(/maxRetainedEvents/);
    expect(() => new InProcessBus({ maxRetainedEvents: 1.5 })).toThrow(/maxRetainedEvents/);
    await bus.close();
  });

  it('moves a tail that fell behind a truncating log on to the first retained event, never back', async () => {
    const bus = new InProcessBus({ maxRetainedEvents: 2 });
    const sent = [1, 2, 3, 4, 5].map((n) => newEvent(Pinged, { tenant_id: TENANT }, { n }));
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const received: LoggedEvent[] = [];
    await bus.publish(sent[0]);
    const tail = await bus.tail({
      filterSubject: 'unit.evt.>',
      start: { kind: 'after', sequence: 0 },
      handler: async (logged) => {
        received.push(logged);
        if (received.length === 1) await held;
      },
    });
    await expectEventually(() => expect(received).toHaveLength(1));

    for (const e of sent.slice(1)) await bus.publish(e);
    release();

    await expectEventually(() => expect(received).toHaveLength(3));
    expect(received.map((e) => [e.envelope.id, e.sequence])).toEqual([
      [sent[0].id, 1],
      [sent[3].id, 4],
      [sent[4].id, 5],
    ]);
    await tail.stop();
    await bus.close();
  });

  it('keeps the message size limit it is given, counting headers, and refuses one that is not a positive integer', async () => {
    const bus = new InProcessBus({ maxPayloadBytes: 300 });
    const small = newEvent(Pinged, { tenant_id: TENANT }, { n: 1 });
    await bus.publish(small);
    const size = Buffer.byteLength(JSON.stringify(small));

    await expect(bus.publish(newEvent(Pinged, { tenant_id: TENANT }, { n: 2 }), { note: 'x'.repeat(300 - size) })).rejects.toMatchObject({
      code: ErrorCode.PAYLOAD_TOO_LARGE,
    });
    expect((await bus.eventLog()).lastSequence).toBe(1);
    expect(() => new InProcessBus({ maxPayloadBytes: 0 })).toThrow(/maxPayloadBytes/);
    await bus.close();
  });

  it('refuses to tail or read the log once closed', async () => {
    const bus = new InProcessBus();
    await bus.close();

    await expect(bus.eventLog()).rejects.toMatchObject({ code: ErrorCode.SERVICE_UNAVAILABLE });
    await expect(bus.tail({ filterSubject: 'unit.evt.>', start: { kind: 'new' }, handler: () => Promise.resolve() })).rejects.toMatchObject({
      code: ErrorCode.SERVICE_UNAVAILABLE,
    });
  });

  it('refuses to publish on a subject that is not an event subject', async () => {
    const bus = new InProcessBus();
    const envelope = { ...newEvent(Pinged, { tenant_id: TENANT }, { n: 1 }), subject: 'unit.cmd.ping.send.v1' };
    await expect(bus.publish(envelope)).rejects.toThrow(/Not an event subject/);
    await bus.close();
  });
});
