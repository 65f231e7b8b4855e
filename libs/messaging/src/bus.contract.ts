import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { type CommandDef, defineCommand, defineEvent, DomainError, ErrorCode, type EventDef, type EventEnvelope, type PayloadOf } from '@runyard/contracts';
import { expectEventually, uniqueName } from '@runyard/testing';
import { Type } from 'class-transformer';
import { IsArray, IsInt, IsOptional, IsString, MaxLength, MinLength, ValidateNested } from 'class-validator';
import type { Bus, DeliveredEvent, LoggedEvent, MessageHeaders, Registration, Tail, TailStart } from './bus.js';
import { newEvent } from './outbox/new-event.js';
import { parseTraceparent, runWithTraceContext, startTrace, traceContext, type TraceContext } from './trace-context.js';

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
/** A second service's command, for requests a handler makes while it handles one. */
const Nested = defineCommand<{ trace: TraceContext | null; headers: MessageHeaders }>()('contract.cmd.echo.nested.v1', EchoPayload);
const TENANT = '0190a5f1-0000-7000-8000-000000000001';
const GROUP = 'contract';
/** Just over NATS's default `max_payload`, which InProcessBus keeps by default too. */
const OVER_LIMIT = 1024 * 1024 + 1;

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
 * A bus over a fresh, empty event log that keeps at most `maxEvents` events, dropping the oldest
 * (InProcessBus `maxRetainedEvents`, NatsBus `maxMessages`): for the tests of a truncated log.
 */
export type BoundedBusFactory = (maxEvents: number) => Promise<BusUnderTest>;

/**
 * The behaviour every `Bus` adapter must show. Each adapter's test file runs it with its own
 * factories; each test gets fresh buses and its own event subjects and durable names.
 */
export function runBusContract(name: string, makeBus: () => Promise<BusUnderTest>, makeBoundedBus: BoundedBusFactory): void {
  describe(`Bus contract: ${name}`, () => {
    let bus: Bus;
    let bus2: Bus;
    let cleanup: () => Promise<void>;
    const registrations: Registration[] = [];
    /** Handlers a test holds back; opened before teardown so that stopping never waits on a failed test's gate. */
    const heldHandlers = new Set<() => void>();
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
      for (const release of heldHandlers) release();
      heldHandlers.clear();
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

    it('answers PAYLOAD_TOO_LARGE at once when a reply exceeds the message size limit (1 MiB)', async () => {
      await handleEcho(bus, (p) =>
        Promise.resolve({ text: p.text === 'big' ? 'x'.repeat(OVER_LIMIT) : p.text, subject: '', headers: {}, validatedInstance: true }),
      );
      const started = Date.now();

      const error = await rejectionOf(bus.request(Echo, { text: 'big' }, { timeoutMs: 5000 }));

      expect(error.code).toBe(ErrorCode.PAYLOAD_TOO_LARGE);
      expect(Date.now() - started).toBeLessThan(2000);
      await expect(bus.request(Echo, { text: 'small' })).resolves.toMatchObject({ text: 'small' });
    });

    it('refuses a request or an event over the message size limit with PAYLOAD_TOO_LARGE, delivering nothing', async () => {
      let calls = 0;
      await handleEcho(bus, (p) => {
        calls += 1;
        return Promise.resolve({ text: p.text, subject: '', headers: {}, validatedInstance: true });
      });

      expect((await rejectionOf(bus.request(Echo, { text: 'x'.repeat(OVER_LIMIT) }))).code).toBe(ErrorCode.PAYLOAD_TOO_LARGE);
      const huge = newEvent(HappenedEvent, { tenant_id: TENANT }, { n: 1, pad: 'x'.repeat(OVER_LIMIT) } as Happened);
      expect((await rejectionOf(bus.publish(huge))).code).toBe(ErrorCode.PAYLOAD_TOO_LARGE);
      const marker = event(2);
      await bus.publish(marker);
      const received: DeliveredEvent[] = [];
      await consumeInto(uniqueName('oversized'), received);

      await expectEventually(() => expect(received.map((e) => e.envelope.id)).toContain(marker.id));
      expect(received.map((e) => e.envelope.id)).toEqual([marker.id]);
      expect(calls).toBe(0);
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

    describe('work queue (submit / work)', () => {
      /** A command of this test's own, so queued work of other tests stays apart. */
      const workCommand = (name = 'work'): CommandDef<string, EchoPayload, EchoReply> => defineCommand<EchoReply>()(`contract.cmd.${family}.${name}.v1`, EchoPayload);
      const echoing = (label = 'w') => (payload: PayloadOf<typeof Echo>, ctx: { subject: string; headers: MessageHeaders }) =>
        Promise.resolve({ text: `${label}:${payload.text}`, subject: ctx.subject, headers: ctx.headers, validatedInstance: payload instanceof EchoPayload });

      async function work(target: Bus, command: ReturnType<typeof workCommand>, durable: string, handler: ReturnType<typeof echoing>, maxInFlight?: number) {
        const registration = await target.work(command, { durable, maxInFlight, handler });
        registrations.push(registration);
        return registration;
      }

      it('keeps a command submitted while no worker runs, and replies once a worker handled it', async () => {
        const Work = workCommand();
        let calls = 0;
        const replied = bus.submit(Work, { text: 'queued' }, { messageId: uniqueName('m'), timeoutMs: 10_000, headers: { 'x-test': 'yes' } });

        await work(bus2, Work, uniqueName('late'), (payload, ctx) => {
          calls++;
          return echoing()(payload, ctx);
        });

        const reply = await replied;
        expect(reply.text).toBe('w:queued');
        expect(reply.subject).toBe(Work.subject);
        expect(reply.headers['x-test']).toBe('yes');
        expect(calls).toBe(1);
      });

      it("answers a handler's DomainError as is, and an invalid payload with VALIDATION_FAILED before the handler runs", async () => {
        const Work = workCommand();
        let calls = 0;
        await work(bus2, Work, uniqueName('refusing'), () => {
          calls++;
          return Promise.reject(new DomainError(ErrorCode.CONFLICT, 'no thanks', { reason: 'test' }));
        });

        const refused = await rejectionOf(bus.submit(Work, { text: 'x' }, { messageId: uniqueName('m') }));
        const invalid = await rejectionOf(bus.submit(Work, { text: 7 } as unknown as EchoPayload, { messageId: uniqueName('m') }));

        expect([refused.code, refused.message, refused.details]).toEqual([ErrorCode.CONFLICT, 'no thanks', { reason: 'test' }]);
        expect(invalid.code).toBe(ErrorCode.VALIDATION_FAILED);
        expect(calls).toBe(1);
      });

      it('retries a command whose handler failed unexpectedly or was unavailable, and replies with the final outcome', async () => {
        const Work = workCommand();
        const failures = [new Error('database connection lost'), new DomainError(ErrorCode.SERVICE_UNAVAILABLE, 'runs service down')];
        let calls = 0;
        await work(bus2, Work, uniqueName('flaky'), (payload, ctx) => {
          const failure = failures[calls++];
          return failure === undefined ? echoing()(payload, ctx) : Promise.reject(failure);
        });

        const reply = await bus.submit(Work, { text: 'eventually' }, { messageId: uniqueName('m'), timeoutMs: 15_000 });

        expect(reply.text).toBe('w:eventually');
        expect(calls).toBe(3);
      });

      it('handles a command once for every submit of its id while it is queued, and again once answered', async () => {
        const Work = workCommand();
        const messageId = uniqueName('m');
        const seen: string[] = [];
        const first = bus.submit(Work, { text: 'one' }, { messageId, timeoutMs: 10_000 });
        const second = bus.submit(Work, { text: 'one' }, { messageId, timeoutMs: 10_000 });
        // Both stored (or joined) before any worker runs: one queued command.
        await work(bus2, Work, uniqueName('once'), (payload, ctx) => {
          seen.push(payload.text);
          return echoing()(payload, ctx);
        });

        expect((await Promise.all([first, second])).map((r) => r.text)).toEqual(['w:one', 'w:one']);
        expect(seen).toEqual(['one']);

        const again = await bus.submit(Work, { text: 'one' }, { messageId, timeoutMs: 10_000 });
        expect(again.text).toBe('w:one');
        expect(seen).toEqual(['one', 'one']);
      });

      it('times out with UPSTREAM_TIMEOUT while no worker runs, and the command stays queued for the next one', async () => {
        const Work = workCommand();
        const messageId = uniqueName('m');
        const timedOut = await rejectionOf(bus.submit(Work, { text: 'patient' }, { messageId, timeoutMs: 150 }));
        expect(timedOut.code).toBe(ErrorCode.UPSTREAM_TIMEOUT);
        const seen: string[] = [];
        // The retry joins the queued command; the worker arriving now handles it once.
        const retried = bus.submit(Work, { text: 'patient' }, { messageId, timeoutMs: 10_000 });
        await work(bus2, Work, uniqueName('after'), (payload, ctx) => {
          seen.push(payload.text);
          return echoing()(payload, ctx);
        });

        expect((await retried).text).toBe('w:patient');
        expect(seen).toEqual(['patient']);
      });

      it('shares a queue between the workers of one durable, each command once, each worker within its maxInFlight', async () => {
        const Work = workCommand();
        const durable = uniqueName('shared');
        const gate = deferred();
        heldHandlers.add(gate.resolve);
        const inFlight = { a: 0, b: 0 };
        const most = { a: 0, b: 0 };
        const handled: Array<{ worker: 'a' | 'b'; text: string }> = [];
        for (const [label, target] of [['a', bus], ['b', bus2]] as const) {
          await work(
            target,
            Work,
            durable,
            async (payload, ctx) => {
              inFlight[label]++;
              most[label] = Math.max(most[label], inFlight[label]);
              // Held until both workers hold two each: only then can the four-at-once point be reached.
              if (inFlight.a + inFlight.b === 4) gate.resolve();
              await gate.promise;
              inFlight[label]--;
              handled.push({ worker: label, text: payload.text });
              return echoing(label)(payload, ctx);
            },
            2,
          );
        }
        const texts = Array.from({ length: 8 }, (_, i) => `job-${i}`);

        const replies = await Promise.all(texts.map((text) => bus.submit(Work, { text }, { messageId: uniqueName('m'), timeoutMs: 10_000 })));

        expect(replies.map((r) => r.text.split(':')[1])).toEqual(texts);
        expect(handled.map((h) => h.text).sort()).toEqual([...texts].sort());
        expect(most).toEqual({ a: 2, b: 2 });
      });

      it('keeps two commands with the same id apart: each handled, each submitter answered by its own', async () => {
        const First = workCommand();
        const Second = workCommand('other');
        await work(bus2, First, uniqueName('first'), echoing('first'));
        await work(bus2, Second, uniqueName('second'), echoing('second'));
        const messageId = uniqueName('m');

        const replies = await Promise.all([
          bus.submit(First, { text: 'a' }, { messageId, timeoutMs: 10_000 }),
          bus.submit(Second, { text: 'b' }, { messageId, timeoutMs: 10_000 }),
        ]);

        expect(replies.map((reply) => reply.text)).toEqual(['first:a', 'second:b']);
      });

      it('refuses a command over the message size limit with PAYLOAD_TOO_LARGE, queueing nothing', async () => {
        const Work = workCommand();
        const error = await rejectionOf(bus.submit(Work, { text: 'x'.repeat(OVER_LIMIT) }, { messageId: uniqueName('m') }));
        expect(error.code).toBe(ErrorCode.PAYLOAD_TOO_LARGE);
      });
    });

    describe('trace context', () => {
      /** Handles Nested by answering the trace it ran in and the headers it got. */
      async function handleNested(): Promise<void> {
        registrations.push(await bus2.handle(Nested, 'contract-other', (_payload, ctx) => Promise.resolve({ trace: traceContext() ?? null, headers: ctx.headers })));
      }

      it("runs a handler within its request's trace, and a request it makes carries that trace on with a span of its own", async () => {
        await handleNested();
        let handlerTrace: TraceContext | undefined;
        let nested: { trace: TraceContext | null; headers: MessageHeaders } | undefined;
        await handleEcho(bus2, async (payload, ctx) => {
          handlerTrace = traceContext();
          nested = await bus2.request(Nested, { text: 'inner' });
          return { text: payload.text, subject: ctx.subject, headers: ctx.headers, validatedInstance: true };
        });
        const caller = { ...startTrace(), traceState: 'vendor=abc' };

        const reply = await runWithTraceContext(caller, () => bus.request(Echo, { text: 'outer' }));

        const sent = parseTraceparent(reply.headers.traceparent);
        expect(sent).toMatchObject({ traceId: caller.traceId, flags: caller.flags });
        expect(reply.headers.tracestate).toBe('vendor=abc');
        // The handler's own span is new: neither the caller's span nor the id the request named.
        expect(handlerTrace).toMatchObject({ traceId: caller.traceId, traceState: 'vendor=abc' });
        expect([caller.spanId, sent?.parentId]).not.toContain(handlerTrace?.spanId);
        expect(parseTraceparent(nested?.headers.traceparent)).toMatchObject({ traceId: caller.traceId });
        expect(nested?.trace?.traceId).toBe(caller.traceId);
        expect(nested?.trace?.spanId).not.toBe(handlerTrace?.spanId);
      });

      it('keeps a traceparent the caller gives, and runs a handler of an untraced request outside any trace', async () => {
        await handleNested();
        const given = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

        const explicit = await runWithTraceContext(startTrace(), () => bus.request(Nested, { text: 'x' }, { headers: { traceparent: given } }));
        const untraced = await runWithTraceContext(undefined, () => bus.request(Nested, { text: 'y' }));
        const invalid = await runWithTraceContext(undefined, () => bus.request(Nested, { text: 'z' }, { headers: { traceparent: '00-abc-def-01' } }));

        expect(explicit.headers.traceparent).toBe(given);
        expect(explicit.trace?.traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
        expect(untraced).toEqual({ trace: null, headers: {} });
        expect(invalid.trace).toBeNull();
      });

      it("handles a consumed event within the trace of its traceparent header, else of its envelope's trace_id", async () => {
        const fromHeader = event(1);
        const fromEnvelope = { ...event(2), trace_id: '0af7651916cd43dd8448eb211c80319c' };
        const untraced = event(3);
        await bus.publish(fromHeader, { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' });
        await bus.publish(fromEnvelope);
        await bus.publish(untraced);
        const traces = new Map<string, string | null>();

        await consumeInto(uniqueName('trace'), [], async (delivered) => {
          traces.set(delivered.envelope.id, traceContext()?.traceId ?? null);
          await delivered.ack();
        });

        await expectEventually(() => expect(traces.size).toBe(3));
        expect(traces.get(fromHeader.id)).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
        expect(traces.get(fromEnvelope.id)).toBe('0af7651916cd43dd8448eb211c80319c');
        expect(traces.get(untraced.id)).toBeNull();
      });
    });

    describe('tail and eventLog', () => {
      const ownEvents = () => `contract.evt.${family}.>`;
      /** Ids of delivered events, or of sent envelopes. */
      const ids = (events: LoggedEvent[]) => events.map((e) => e.envelope.id);
      const idsOf = (envelopes: EventEnvelope[]) => envelopes.map((e) => e.id);
      const sequencesOf = (events: LoggedEvent[]) => events.map((e) => e.sequence);

      async function tailInto(
        received: LoggedEvent[],
        start: TailStart,
        { handler, target = bus, filterSubject = ownEvents() }: { handler?: (event: LoggedEvent) => Promise<void>; target?: Bus; filterSubject?: string } = {},
      ): Promise<Tail> {
        const tail = await target.tail({
          filterSubject,
          start,
          handler: async (logged) => {
            received.push(logged);
            if (handler) await handler(logged);
          },
        });
        registrations.push(tail);
        return tail;
      }

      /** A handler that holds each event until the test releases it; `held` lists the releases in order. */
      function holdingHandler(): { handler: (event: LoggedEvent) => Promise<void>; held: Array<() => void> } {
        const held: Array<() => void> = [];
        const handler = () =>
          new Promise<void>((resolve) => {
            const release = () => {
              heldHandlers.delete(release);
              resolve();
            };
            heldHandlers.add(release);
            held.push(release);
          });
        return { handler, held };
      }

      function expectStrictlyIncreasing(sequences: number[]): void {
        sequences.slice(1).forEach((sequence, i) => expect(sequence).toBeGreaterThan(sequences[i]));
      }

      it('tails from `new`: only events stored after it started, then live ones', async () => {
        const before = event(1);
        await bus.publish(before);
        const received: LoggedEvent[] = [];

        await tailInto(received, { kind: 'new' });
        const after = [2, 3].map(event);
        for (const e of after) await bus.publish(e);

        // In order: had `before` been delivered, it would have come first.
        await expectEventually(() => expect(ids(received)).toContain(after[1].id));
        expect(ids(received)).toEqual(idsOf(after));
        expect(received.map((e) => e.envelope)).toEqual(after);
      });

      it('tails `after` a sequence: every later stored event in order, then live ones', async () => {
        const sent = [1, 2, 3, 4, 5].map(event);
        for (const e of sent) await bus.publish(e);
        const all: LoggedEvent[] = [];
        await tailInto(all, { kind: 'after', sequence: 0 });
        await expectEventually(() => expect(all).toHaveLength(5));
        expect(ids(all)).toEqual(idsOf(sent));
        expectStrictlyIncreasing(sequencesOf(all));

        const rest: LoggedEvent[] = [];
        await tailInto(rest, { kind: 'after', sequence: all[1].sequence });
        const live = event(6);
        await bus.publish(live);

        await expectEventually(() => expect(ids(rest)).toContain(live.id));
        expect(ids(rest)).toEqual([...idsOf(sent.slice(2)), live.id]);
        expect(sequencesOf(rest).slice(0, 3)).toEqual(sequencesOf(all).slice(2, 5));
      });

      it('tails from a `time`: events stored at or after it, then live ones', async () => {
        const early = event(1);
        await bus.publish(early);
        const storedBy = Date.now();
        // Wait for the clock (not a fixed delay) to pass the early event's storage time.
        await expectEventually(() => expect(Date.now()).toBeGreaterThan(storedBy), { intervalMs: 1 });
        const from = new Date();
        const late = event(2);
        await bus.publish(late);
        const received: LoggedEvent[] = [];

        await tailInto(received, { kind: 'time', time: from });
        const live = event(3);
        await bus.publish(live);

        await expectEventually(() => expect(ids(received)).toContain(live.id));
        expect(ids(received)).toEqual([late.id, live.id]);
      });

      it('delivers many events exactly once and in log order, across the switch from stored to live', async () => {
        const stored = Array.from({ length: 100 }, (_, i) => event(i));
        for (const e of stored) await bus.publish(e);
        const received: LoggedEvent[] = [];

        await tailInto(received, { kind: 'after', sequence: 0 }, { target: bus2 });
        const live = Array.from({ length: 100 }, (_, i) => event(100 + i));
        await Promise.all(live.map((e) => bus.publish(e)));
        const marker = event(999);
        await bus.publish(marker);

        await expectEventually(() => expect(ids(received)).toContain(marker.id));
        expect(received).toHaveLength(201);
        expect(ids(received).slice(0, 100)).toEqual(idsOf(stored));
        expect(new Set(ids(received))).toEqual(new Set([...idsOf(stored), ...idsOf(live), marker.id]));
        expectStrictlyIncreasing(sequencesOf(received));
      });

      it('delivers only what its filter subject matches', async () => {
        const Other = defineEvent(`contract.evt.${family}x.other.v1`, Happened);
        const Nested = defineEvent(`contract.evt.${family}.deeper.nested.v1`, Happened);
        const [first, last] = [1, 4].map(event);
        const foreign = newEvent(Other, { tenant_id: TENANT }, { n: 2 });
        const nested = newEvent(Nested, { tenant_id: TENANT }, { n: 3 });
        for (const e of [first, foreign, nested, last]) await bus.publish(e);
        const wildcard: LoggedEvent[] = [];
        const exact: LoggedEvent[] = [];

        await tailInto(wildcard, { kind: 'after', sequence: 0 });
        await tailInto(exact, { kind: 'after', sequence: 0 }, { filterSubject: HappenedEvent.subject });

        await expectEventually(() => expect(ids(wildcard)).toContain(last.id));
        await expectEventually(() => expect(ids(exact)).toContain(last.id));
        expect(ids(wildcard)).toEqual([first.id, nested.id, last.id]);
        expect(ids(exact)).toEqual([first.id, last.id]);
        // Sequences are log positions: the events the filter skipped leave gaps.
        expect(exact[1].sequence - exact[0].sequence).toBeGreaterThanOrEqual(3);
      });

      it('never hands a slow handler a second event before the first one is done (backpressure)', async () => {
        const sent = [1, 2, 3].map(event);
        for (const e of sent) await bus.publish(e);
        const { handler, held } = holdingHandler();
        let active = 0;
        let maxActive = 0;
        const received: LoggedEvent[] = [];
        await tailInto(received, { kind: 'after', sequence: 0 }, {
          handler: async (logged) => {
            active += 1;
            maxActive = Math.max(maxActive, active);
            await handler(logged);
            active -= 1;
          },
        });
        await expectEventually(() => expect(held).toHaveLength(1));

        // An unhindered tail over the same events shows they were there to be delivered.
        const witness: LoggedEvent[] = [];
        await tailInto(witness, { kind: 'after', sequence: 0 });
        await expectEventually(() => expect(witness).toHaveLength(3));
        expect(received).toHaveLength(1);

        held[0]();
        await expectEventually(() => expect(held).toHaveLength(2));
        expect(received).toHaveLength(2);
        held[1]();
        await expectEventually(() => expect(held).toHaveLength(3));
        held[2]();
        await expectEventually(() => expect(active).toBe(0));
        expect(maxActive).toBe(1);
        expect(ids(received)).toEqual(idsOf(sent));
      });

      it('stop() lets the handler in progress finish, then delivers nothing more and resolves `ended`', async () => {
        const sent = [1, 2].map(event);
        for (const e of sent) await bus.publish(e);
        const { handler, held } = holdingHandler();
        let finished = 0;
        const received: LoggedEvent[] = [];
        const tail = await tailInto(received, { kind: 'after', sequence: 0 }, {
          handler: async (logged) => {
            await handler(logged);
            finished += 1;
          },
        });
        await expectEventually(() => expect(held).toHaveLength(1));

        const stopped = tail.stop();
        held[0]();
        await stopped;

        expect(finished).toBe(1);
        await expect(tail.ended).resolves.toBeUndefined();
        const later = event(3);
        await bus.publish(later);
        const witness: LoggedEvent[] = [];
        await tailInto(witness, { kind: 'after', sequence: 0 });
        await expectEventually(() => expect(ids(witness)).toContain(later.id));
        expect(ids(received)).toEqual([sent[0].id]);
      });

      it('ends with a rejected `ended` when the handler throws, and delivers nothing more', async () => {
        const sent = [1, 2].map(event);
        for (const e of sent) await bus.publish(e);
        const received: LoggedEvent[] = [];

        const tail = await tailInto(received, { kind: 'after', sequence: 0 }, { handler: () => Promise.reject(new Error('reader failed')) });

        await expect(tail.ended).rejects.toThrow('reader failed');
        const later = event(3);
        await bus.publish(later);
        const witness: LoggedEvent[] = [];
        await tailInto(witness, { kind: 'after', sequence: 0 });
        await expectEventually(() => expect(ids(witness)).toContain(later.id));
        expect(ids(received)).toEqual([sent[0].id]);
        await expect(tail.stop()).resolves.toBeUndefined();
      });

      it('resumes `after` the last event seen without losing or repeating one', async () => {
        const sent = [1, 2, 3, 4, 5].map(event);
        for (const e of sent) await bus.publish(e);
        const { handler, held } = holdingHandler();
        const firstRun: LoggedEvent[] = [];
        const tail = await tailInto(firstRun, { kind: 'after', sequence: 0 }, {
          handler: (logged) => (logged.envelope.id === sent[1].id ? handler(logged) : Promise.resolve()),
        });
        await expectEventually(() => expect(held).toHaveLength(1));
        const stopped = tail.stop();
        held[0]();
        await stopped;
        const whileStopped = event(6);
        await bus.publish(whileStopped);

        const secondRun: LoggedEvent[] = [];
        await tailInto(secondRun, { kind: 'after', sequence: firstRun[firstRun.length - 1].sequence });
        const live = event(7);
        await bus.publish(live);

        await expectEventually(() => expect(ids(secondRun)).toContain(live.id));
        expect(ids(firstRun)).toEqual(idsOf(sent.slice(0, 2)));
        expect([...ids(firstRun), ...ids(secondRun)]).toEqual([...idsOf(sent), whileStopped.id, live.id]);
      });

      it('reports the retained range and an epoch that stays the same while the log lives', async () => {
        const before = await bus.eventLog();
        const sent = [1, 2, 3].map(event);
        for (const e of sent) await bus.publish(e);
        const received: LoggedEvent[] = [];
        await tailInto(received, { kind: 'after', sequence: before.lastSequence });
        await expectEventually(() => expect(received).toHaveLength(3));

        const after = await bus.eventLog();
        const elsewhere = await bus2.eventLog();

        expect(before.epoch).toEqual(expect.any(String));
        expect(before.epoch.length).toBeGreaterThan(0);
        expect(after.epoch).toBe(before.epoch);
        expect(elsewhere.epoch).toBe(before.epoch);
        expect(received[0].sequence).toBeGreaterThan(before.lastSequence);
        expect(after.lastSequence).toBe(received[2].sequence);
        expect(after.firstSequence).toBeGreaterThanOrEqual(1);
        expect(after.firstSequence).toBeLessThanOrEqual(received[0].sequence);
        expect(elsewhere.lastSequence).toBe(after.lastSequence);
      });

      it('reports an empty log as first = last + 1 = 1', async () => {
        const fresh = await makeBoundedBus(10);
        try {
          const log = await fresh.bus.eventLog();
          expect(log).toEqual({ epoch: expect.any(String), firstSequence: 1, lastSequence: 0 });
        } finally {
          await fresh.cleanup();
        }
      });

      it('starts a tail `after` a sequence older than the retained log at the first retained event', async () => {
        const small = await makeBoundedBus(3);
        try {
          const sent = [1, 2, 3, 4, 5].map(event);
          for (const e of sent) await small.bus.publish(e);
          const log = await small.bus.eventLog();
          expect(log).toEqual({ epoch: expect.any(String), firstSequence: 3, lastSequence: 5 });
          const fromZero: LoggedEvent[] = [];
          const fromOne: LoggedEvent[] = [];

          await tailInto(fromZero, { kind: 'after', sequence: 0 }, { target: small.bus });
          await tailInto(fromOne, { kind: 'after', sequence: 1 }, { target: small.bus });
          // Publishing now would push the third event out before the tails read it.
          await expectEventually(() => expect(fromZero).toHaveLength(3));
          await expectEventually(() => expect(fromOne).toHaveLength(3));
          const live = event(6);
          await small.bus.publish(live);

          await expectEventually(() => expect(ids(fromZero)).toContain(live.id));
          await expectEventually(() => expect(ids(fromOne)).toContain(live.id));
          expect(fromZero.map((e) => [e.envelope.id, e.sequence])).toEqual([...sent.slice(2), live].map((e, i) => [e.id, 3 + i]));
          expect(ids(fromOne)).toEqual(ids(fromZero));
          expect(await small.bus.eventLog()).toEqual({ epoch: log.epoch, firstSequence: 4, lastSequence: 6 });
        } finally {
          await small.cleanup();
        }
      });

      it('stops every tail when the bus closes', async () => {
        const received: LoggedEvent[] = [];
        const tail = await tailInto(received, { kind: 'new' });

        await bus.close();

        await expect(tail.ended).resolves.toBeUndefined();
        expect(bus.status().connected).toBe(false);
      });

      it('refuses a start that names no position in the log with VALIDATION_FAILED', async () => {
        const handler = () => Promise.resolve();
        for (const start of [
          { kind: 'after', sequence: -1 },
          { kind: 'after', sequence: 1.5 },
          { kind: 'time', time: new Date('not a date') },
        ] as TailStart[]) {
          const error = await rejectionOf(bus.tail({ filterSubject: ownEvents(), start, handler }));
          expect(error.code).toBe(ErrorCode.VALIDATION_FAILED);
        }
      });
    });
  });
}
