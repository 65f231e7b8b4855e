import type { EventEnvelope } from '@runyard/contracts';
import type { Bus, EventLogInfo, LoggedEvent, Tail, TailOptions } from '@runyard/messaging';
import { v7 as uuidv7 } from 'uuid';

/** The two filters the streams use: every event, or one exact subject. */
function matches(filter: string, subject: string): boolean {
  return filter === '*.evt.>' || filter === subject;
}

/** A tail of FakeEventLog: delivers in order, one at a time, waiting for each handler, following appends. */
export class FakeTail implements Tail {
  delivered = 0;
  handlerPending = false;
  stopped = false;
  readonly ended: Promise<void>;
  private settle!: { resolve: () => void; reject: (error: unknown) => void };
  private wake: () => void = () => undefined;
  private loop: Promise<void> = Promise.resolve();

  constructor(
    private readonly log: FakeEventLog,
    readonly options: TailOptions,
  ) {
    this.ended = new Promise((resolve, reject) => (this.settle = { resolve, reject }));
    this.ended.catch(() => undefined);
  }

  start(): void {
    this.loop = this.run();
  }

  notify(): void {
    this.wake();
  }

  private async run(): Promise<void> {
    const { start, filterSubject } = this.options;
    let index =
      start.kind === 'after'
        ? start.sequence
        : start.kind === 'new'
          ? this.log.events.length
          : this.log.events.filter((e) => this.log.storedAt.get(e.sequence)! < start.time.getTime()).length;
    // Starting before the retained log begins at its first retained event.
    index = Math.max(index, this.log.firstSequence - 1);
    while (!this.stopped) {
      const next = this.log.events[index];
      if (next === undefined) {
        await new Promise<void>((resolve) => (this.wake = resolve));
        continue;
      }
      index++;
      if (!matches(filterSubject, next.envelope.subject)) continue;
      this.handlerPending = true;
      try {
        await this.options.handler(next);
      } catch (error) {
        this.fail(error);
        return;
      } finally {
        this.handlerPending = false;
      }
      this.delivered++;
    }
  }

  fail(error: unknown): void {
    this.stopped = true;
    this.log.tails.delete(this);
    this.wake();
    this.settle.reject(error);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.log.tails.delete(this);
    this.wake();
    await this.loop;
    this.settle.resolve();
  }
}

const unexpected = (name: string) => (): never => {
  throw new Error(`unexpected call: bus.${name}`);
};

/**
 * The event log part of the Bus, in memory, with the port's tail semantics (order, one at a time,
 * backpressure, retention, time starts); any other Bus call fails the test.
 */
export class FakeEventLog implements Bus {
  readonly events: LoggedEvent[] = [];
  readonly storedAt = new Map<number, number>();
  epoch = 'epoch-1';
  /** Events before this sequence have left the log (retention). */
  firstSequence = 1;
  readonly tails = new Set<FakeTail>();
  readonly allTails: FakeTail[] = [];
  tailError: Error | undefined;

  request = unexpected('request');
  handle = unexpected('handle');
  submit = unexpected('submit');
  work = unexpected('work');
  publish = unexpected('publish');
  consume = unexpected('consume');
  status = unexpected('status');
  close = unexpected('close');

  append(fields: Partial<EventEnvelope> = {}, dataSize = 10): LoggedEvent {
    const envelope: EventEnvelope = {
      id: uuidv7(),
      subject: 'sessions.evt.session.created.v1',
      tenant_id: 't',
      occurred_at: new Date().toISOString(),
      data: { pad: 'x'.repeat(dataSize) },
      ...fields,
    };
    const event = { envelope, sequence: this.events.length + 1 };
    this.events.push(event);
    this.storedAt.set(event.sequence, Date.now());
    for (const tail of this.tails) tail.notify();
    return event;
  }

  tail(options: TailOptions): Promise<Tail> {
    if (this.tailError) return Promise.reject(this.tailError);
    const tail = new FakeTail(this, options);
    this.tails.add(tail);
    this.allTails.push(tail);
    tail.start();
    return Promise.resolve(tail);
  }

  eventLog(): Promise<EventLogInfo> {
    return Promise.resolve({ epoch: this.epoch, firstSequence: this.firstSequence, lastSequence: this.events.length });
  }

  get lastTail(): FakeTail {
    const tail = this.allTails[this.allTails.length - 1];
    if (!tail) throw new Error('no tail');
    return tail;
  }
}

