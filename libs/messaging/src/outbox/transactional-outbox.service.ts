import { Injectable } from '@nestjs/common';
import { DomainError, ErrorCode, type EventEnvelope } from '@runyard/contracts';
import { DataSource, type EntityManager } from 'typeorm';
import type { MessageHeaders } from '../bus.js';
import { assertEventSubject } from '../subject-filter.js';
import { continueTraceId, traceContext, withTraceHeaders } from '../trace-context.js';
import { OutboxEventRepository, type OutboxRow } from './outbox-event.repository.js';
import { OutboxRelay } from './outbox-relay.service.js';

/**
 * Largest event the outbox accepts, serialised: below NATS's default max_payload (1 MiB) with room
 * for headers. A larger one could never be published and would stall the relay behind it, so it is
 * refused before anything commits.
 */
export const MAX_EVENT_BYTES = 900 * 1024;

/** Collects the events of one unit of work; they are written when the work succeeds. */
export interface OutboxEvents {
  /**
   * Stores `envelope` with `headers`, plus a `traceparent` for the envelope's `trace_id` (a new span
   * in it, with the current `tracestate` when the work runs in that trace) unless `headers` give one.
   */
  add(envelope: EventEnvelope, headers?: MessageHeaders): void;
}

/**
 * Runs a unit of work and its events in one database transaction: the events are inserted into
 * `outbox_events` in the same transaction, so they exist exactly when the state change does. The
 * relay publishes them after commit (nudged here, so there is no poll delay).
 *
 *   outbox.run(async (tx, events) => { ...; events.add(newEvent(SessionCreated, refs, view)); return view; })
 */
@Injectable()
export class TransactionalOutbox {
  private readonly repository = new OutboxEventRepository();

  constructor(
    private readonly dataSource: DataSource,
    private readonly relay: OutboxRelay,
  ) {}

  async run<T>(work: (tx: EntityManager, events: OutboxEvents) => Promise<T>): Promise<T> {
    const collected: OutboxRow[] = [];
    let open = true;
    const events: OutboxEvents = {
      add(envelope, headers = {}) {
        if (!open) throw new Error(`Outbox: event ${envelope.subject} added after its transaction ended`);
        assertEventSubject(envelope.subject);
        if (Buffer.byteLength(JSON.stringify(envelope), 'utf8') > MAX_EVENT_BYTES) {
          throw new DomainError(ErrorCode.PAYLOAD_TOO_LARGE, `too large to record: the ${envelope.subject} event would exceed ${MAX_EVENT_BYTES} bytes`);
        }
        collected.push({ envelope, headers: eventTraceHeaders(envelope, headers) });
      },
    };
    let result: T;
    try {
      result = await this.dataSource.transaction(async (tx) => {
        const value = await work(tx, events);
        open = false;
        await this.repository.insertAll(tx, collected);
        return value;
      });
    } finally {
      open = false;
    }
    if (collected.length > 0) this.relay.nudge();
    return result;
  }
}

/** The headers an event is stored (and published) with: the caller's, plus its trace's. */
function eventTraceHeaders(envelope: EventEnvelope, headers: MessageHeaders): MessageHeaders {
  if (envelope.trace_id === undefined) return { ...headers };
  const current = traceContext();
  return withTraceHeaders(headers, current?.traceId === envelope.trace_id ? current : continueTraceId(envelope.trace_id));
}
