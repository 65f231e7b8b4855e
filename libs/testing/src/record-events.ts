/**
 * What `recordEvents` needs of a bus: its `consume` (typed structurally, so this library does not
 * depend on the messaging library whose tests use it).
 */
export interface ConsumingBus<E> {
  consume(options: {
    durable: string;
    filterSubject: string;
    maxInFlight?: number;
    handler(event: { envelope: E }): Promise<void>;
  }): Promise<{ stop(): Promise<void> }>;
}

/** Records, in delivery order, every event on `filterSubject` through a durable consumer of its own. */
export async function recordEvents<E>(bus: ConsumingBus<E>, durable: string, filterSubject: string): Promise<{ events: E[]; stop(): Promise<void> }> {
  const events: E[] = [];
  const consumer = await bus.consume({
    durable,
    filterSubject,
    maxInFlight: 32,
    handler: (event) => {
      events.push(event.envelope);
      return Promise.resolve();
    },
  });
  return { events, stop: () => consumer.stop() };
}
