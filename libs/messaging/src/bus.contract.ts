import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { defineCommand, defineEvent, DomainError, ErrorCode, type EventDef, type EventEnvelope, type PayloadOf } from '@runyard/contracts';
import { expectEventually, uniqueName } from '@runyard/testing';
import { Type } from 'class-transformer';
import { IsArray, IsInt, IsOptional, IsString, MaxLength, MinLength, ValidateNested } from 'class-validator';
import type { Bus, DeliveredEvent, MessageHeaders, Registration } from './bus.js';
import { newEvent } from './outbox/new-event.js';

class ContractTarget {
  @IsString()
  @MinLength(1)
  channel!: string;
}

class EchoPayload {
  @IsString()
  @MaxLength(100)
  text!: string;

  @IsOptional()
  @IsArray()
  @ValidateNested({ each: true })
  @Type(() => ContractTarget)
  targets?: ContractTarget[];
}

interface EchoReply {
  text: string;
  subject: string;
  headers: MessageHeaders;
  validatedInstance: boolean;
}

class Happened {
  @IsInt()
  n!: number;
}

const Echo = defineCommand<EchoReply>()('contract.cmd.echo.run.v1', EchoPayload);
const Unhandled = defineCommand<EchoReply>()('contract.cmd.echo.unhandled.v1', EchoPayload);
const TENANT = '0190a5f1-0000-7000-8000-000000000001';
const GROUP = 'contract';

async function rejectionOf(promise: Promise<unknown>): Promise<DomainError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof DomainError) return error;
    throw error;
  }
  throw new Error('expected the promise to reject');
}

function deferred(): { promise: Promise<void>; resolve(): void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

export interface BusUnderTest {
  bus: Bus;
  /** A second connection to the same bus, when the adapter has such a thing. */
  bus2?: Bus;
  cleanup(): Promise<void>;
}

/**
 * The behaviour every `Bus` adapter must show. Each adapter's test file runs it with its own
 * factory; each test gets fresh buses and its own event subjects and durable names.
 */
export function runBusContract(name: string, makeBus: () => Promise<BusUnderTest>): void {
  describe(`Bus contract: ${name}`, () => {
    let bus: Bus;
    let bus2: Bus;
    let cleanup: () => Promise<void>;
    const registrations: Registration[] = [];
    /** Per-test event subject family, so events of earlier tests in a shared stream stay invisible. */
    let family: string;
    let HappenedEvent: EventDef<string, Happened>;
    const event = (n: number): EventEnvelope<Happened> => newEvent(HappenedEvent, { tenant_id: TENANT }, { n });

    beforeEach(async () => {
      const made = await makeBus();
      bus = made.bus;
      bus2 = made.bus2 ?? made.bus;
      cleanup = made.cleanup;
      family = uniqueName('f').toLowerCase();
      HappenedEvent = defineEvent(`contract.evt.${family}.happened.v1`, Happened);
    });

    afterEach(async () => {
      await Promise.all(registrations.splice(0).map((r) => r.stop()));
      await cleanup();
    });

    async function handleEcho(target: Bus, handler: (payload: PayloadOf<typeof Echo>, ctx: { subject: string; headers: MessageHeaders }) => Promise<EchoReply>) {
      const registration = await target.handle(Echo, GROUP, handler);
      registrations.push(registration);
      return registration;
    }

    async function consumeInto(
      durable: string,
      received: DeliveredEvent[],
      handler?: (event: DeliveredEvent) => Promise<void>,
      maxInFlight?: number,
    ) {
      const registration = await bus.consume({
        durable,
        filterSubject: `contract.evt.${family}.>`,
        retryDelayMs: 50,
        maxInFlight,
        handler: async (delivered) => {
          received.push(delivered);
          if (handler) await handler(delivered);
          else await delivered.ack();
        },
      });
      registrations.push(registration);
      return registration;
    }

    it('round-trips a request as JSON, with headers, to a validated payload instance', async () => {
      await handleEcho(bus, (payload, ctx) => {
        const seen = { text: payload.text, validatedInstance: payload instanceof EchoPayload };
        payload.text = 'mutated by the handler';
        return Promise.resolve({ ...seen, subject: ctx.subject, headers: ctx.headers });
      });
      const sent = { text: 'hello', targets: [{ channel: 'slack' }] };

      const reply = await bus.request(Echo, sent, { headers: { 'x-request-id': 'req-1' } });

      expect(reply).toEqual({ text: 'hello', subject: Echo.subject, headers: expect.objectContaining({ 'x-request-id': 'req-1' }), validatedInstance: true });
      expect(sent.text).toBe('hello'); // the handler worked on its own copy
    });

    it('refuses an invalid payload with dotted field paths, before the handler runs', async () => {
      let calls = 0;
      await handleEcho(bus, (payload) => {
        calls += 1;
        return Promise.resolve({ text: payload.text, subject: '', headers: {}, validatedInstance: true });
      });
      const invalid = { text: 'ok', targets: [{ channel: '' }], bogus: 1 } as unknown as EchoPayload;

      const error = await rejectionOf(bus.request(Echo, invalid));

      expect(error.code).toBe(ErrorCode.VALIDATION_FAILED);
      const fields = (error.details?.errors ?? []).map((e) => e.field);
      expect(fields).toEqual(expect.arrayContaining(['targets.0.channel', 'bogus']));
      expect(calls).toBe(0);
    });

    it("passes a handler's DomainError through with its code, message and details", async () => {
      await handleEcho(bus, () => Promise.reject(new DomainError(ErrorCode.CONFLICT, 'Already there', { existing_id: 'abc' })));

      const error = await rejectionOf(bus.request(Echo, { text: 'x' }));

      expect(error.code).toBe(ErrorCode.CONFLICT);
      expect(error.message).toBe('Already there');
      expect(error.details).toEqual({ existing_id: 'abc' });
    });

    it('masks any other handler error as INTERNAL_ERROR without its message', async () => {
      await handleEcho(bus, () => Promise.reject(new Error('secret connection string postgres://admin:pw@db')));

      const error = await rejectionOf(bus.request(Echo, { text: 'x' }));

      expect(error.code).toBe(ErrorCode.INTERNAL_ERROR);
      expect(error.message).not.toContain('secret');
      expect(JSON.stringify(error.details ?? {})).not.toContain('secret');
    });

    it('rejects at once with SERVICE_UNAVAILABLE when no handler is subscribed', async () => {
      const started = Date.now();
      const error = await rejectionOf(bus.request(Unhandled, { text: 'x' }, { timeoutMs: 5000 }));
      expect(error.code).toBe(ErrorCode.SERVICE_UNAVAILABLE);
      expect(Date.now() - started).toBeLessThan(2000);

      const registration = await handleEcho(bus, (p) => Promise.resolve({ text: p.text, subject: '', headers: {}, validatedInstance: true }));
      await expect(bus.request(Echo, { text: 'up' })).resolves.toMatchObject({ text: 'up' });
      await registration.stop();
      expect((await rejectionOf(bus.request(Echo, { text: 'x' }, { timeoutMs: 5000 }))).code).toBe(ErrorCode.SERVICE_UNAVAILABLE);
    });

    it('rejects with UPSTREAM_TIMEOUT when no reply comes in time', async () => {
      const release = deferred();
      await handleEcho(bus, async (p) => {
        await release.promise;
        return { text: p.text, subject: '', headers: {}, validatedInstance: true };
      });
      try {
        const error = await rejectionOf(bus.request(Echo, { text: 'slow' }, { timeoutMs: 150 }));
        expect(error.code).toBe(ErrorCode.UPSTREAM_TIMEOUT);
      } finally {
        release.resolve();
      }
    });

    it('shares requests between handlers of one queue group, each request handled exactly once', async () => {
      const handledBy: Array<{ handler: string; text: string }> = [];
      for (const [label, target] of [['a', bus], ['b', bus2]] as const) {
        await handleEcho(target, (p) => {
          handledBy.push({ handler: label, text: p.text });
          return Promise.resolve({ text: `${label}:${p.text}`, subject: '', headers: {}, validatedInstance: true });
        });
      }
      const n = 24;
      const texts = Array.from({ length: n }, (_, i) => `req-${i}`);

      const replies = await Promise.all(texts.map((text) => bus.request(Echo, { text })));

      expect(replies.map((r) => r.text.split(':')[1])).toEqual(texts);
      expect(handledBy.map((h) => h.text).sort()).toEqual([...texts].sort());
      expect(handledBy.filter((h) => h.handler === 'a').length).toBeGreaterThan(0);
      expect(handledBy.filter((h) => h.handler === 'b').length).toBeGreaterThan(0);
    });

    it('stores an event published twice under one id once', async () => {
      const first = event(1);
      const second = event(2);
      await bus.publish(first);
      await bus.publish({ ...first, data: { n: 99 } });
      await bus.publish(second, { traceparent: '00-abc-def-01' });
      const received: DeliveredEvent[] = [];

      await consumeInto(uniqueName('dedupe'), received);

      // In-order delivery: once the second has arrived, any duplicate of the first would have too.
      await expectEventually(() => expect(received.map((e) => e.envelope.id)).toContain(second.id));
      expect(received.map((e) => e.envelope)).toEqual([first, second]);
      expect(received[1].headers).toEqual({ traceparent: '00-abc-def-01' });
    });

    it('delivers a durable consumer every event of its filter, in order', async () => {
      const sent = [1, 2, 3, 4, 5].map(event);
      for (const e of sent) await bus.publish(e);
      await bus.publish(newEvent(defineEvent(`contract.evt.${family}x.other.v1`, Happened), { tenant_id: TENANT }, { n: 0 }));
      const received: DeliveredEvent[] = [];

      await consumeInto(uniqueName('order'), received);

      await expectEventually(() => expect(received).toHaveLength(5));
      expect(received.map((e) => e.envelope.id)).toEqual(sent.map((e) => e.id));
      const sequences = received.map((e) => e.sequence);
      expect([...sequences].sort((a, b) => a - b)).toEqual(sequences);
      expect(new Set(sequences).size).toBe(5);
      expect(received.every((e) => e.deliveryCount === 1)).toBe(true);
    });

    it('hands a consumer at most maxInFlight events at once', async () => {
      for (const n of [1, 2, 3, 4]) await bus.publish(event(n));
      const gate = deferred();
      let active = 0;
      let maxActive = 0;
      const received: DeliveredEvent[] = [];

      await consumeInto(
        uniqueName('inflight'),
        received,
        async (delivered) => {
          active += 1;
          maxActive = Math.max(maxActive, active);
          await gate.promise;
          active -= 1;
          await delivered.ack();
        },
        2,
      );

      await expectEventually(() => expect(active).toBe(2));
      gate.resolve();
      await expectEventually(() => expect(received).toHaveLength(4));
      expect(maxActive).toBe(2);
    });

    it('resumes a durable consumer after its last ack when it is consumed again', async () => {
      const durable = uniqueName('resume');
      const before = [1, 2, 3].map(event);
      for (const e of before) await bus.publish(e);
      const firstRun: DeliveredEvent[] = [];
      const registration = await consumeInto(durable, firstRun);
      await expectEventually(() => expect(firstRun).toHaveLength(3));
      await registration.stop();

      const after = [4, 5].map(event);
      for (const e of after) await bus.publish(e);
      const secondRun: DeliveredEvent[] = [];
      await consumeInto(durable, secondRun);

      await expectEventually(() => expect(secondRun.map((e) => e.envelope.id)).toContain(after[1].id));
      expect(firstRun.map((e) => e.envelope.id)).toEqual(before.map((e) => e.id));
      expect(secondRun.map((e) => e.envelope.id)).toEqual(after.map((e) => e.id));
    });

    it('redelivers a nak’ed event, and one whose handler threw, with deliveryCount 2 — before later events', async () => {
      const [naked, thrown, later] = [1, 2, 3].map(event);
      for (const e of [naked, thrown, later]) await bus.publish(e);
      const received: DeliveredEvent[] = [];

      await consumeInto(uniqueName('nak'), received, async (delivered) => {
        if (delivered.deliveryCount === 1 && delivered.envelope.id === naked.id) return delivered.nak(50);
        if (delivered.deliveryCount === 1 && delivered.envelope.id === thrown.id) throw new Error('transient');
        return delivered.ack();
      });

      await expectEventually(() => expect(received.map((e) => e.envelope.id)).toContain(later.id));
      expect(received.map((e) => [e.envelope.id, e.deliveryCount])).toEqual([
        [naked.id, 1],
        [naked.id, 2],
        [thrown.id, 1],
        [thrown.id, 2],
        [later.id, 1],
      ]);
    });

    it('never redelivers a terminated event, not even to the durable consumed again', async () => {
      const durable = uniqueName('term');
      const [poison, good] = [1, 2].map(event);
      await bus.publish(poison);
      await bus.publish(good);
      const firstRun: DeliveredEvent[] = [];
      const registration = await consumeInto(durable, firstRun, async (delivered) => {
        if (delivered.envelope.id === poison.id) {
          await delivered.term();
          throw new Error('poison'); // a throw after term() must not turn into a redelivery
        }
        await delivered.ack();
      });
      await expectEventually(() => expect(firstRun.map((e) => e.envelope.id)).toContain(good.id));
      await registration.stop();

      const marker = event(3);
      await bus.publish(marker);
      const secondRun: DeliveredEvent[] = [];
      await consumeInto(durable, secondRun);

      await expectEventually(() => expect(secondRun.map((e) => e.envelope.id)).toContain(marker.id));
      expect(firstRun.map((e) => e.envelope.id)).toEqual([poison.id, good.id]);
      expect(secondRun.map((e) => e.envelope.id)).toEqual([marker.id]);
    });
  });
}
