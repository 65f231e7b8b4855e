import { describe, expect, it } from '@jest/globals';
import { defineEvent, DomainError, ErrorCode } from '@runyard/contracts';
import { expectEventually } from '@runyard/testing';
import { IsInt } from 'class-validator';
import { runBusContract } from './bus.contract.js';
import type { DeliveredEvent } from './bus.js';
import { InProcessBus } from './in-process-bus.js';
import { newEvent } from './outbox/new-event.js';

runBusContract('InProcessBus', () => {
  const bus = new InProcessBus();
  return Promise.resolve({ bus, cleanup: () => bus.close() });
});

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

  it('refuses work once closed and reports itself disconnected', async () => {
    const bus = new InProcessBus();
    await bus.close();

    expect(bus.status().connected).toBe(false);
    const publish = bus.publish(newEvent(Pinged, { tenant_id: TENANT }, { n: 1 }));
    await expect(publish).rejects.toBeInstanceOf(DomainError);
    await expect(publish).rejects.toMatchObject({ code: ErrorCode.SERVICE_UNAVAILABLE });
  });

  it('refuses to publish on a subject that is not an event subject', async () => {
    const bus = new InProcessBus();
    const envelope = { ...newEvent(Pinged, { tenant_id: TENANT }, { n: 1 }), subject: 'unit.cmd.ping.send.v1' };
    await expect(bus.publish(envelope)).rejects.toThrow(/Not an event subject/);
    await bus.close();
  });
});
