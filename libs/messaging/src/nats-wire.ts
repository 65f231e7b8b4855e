import { AckPolicy, type ConsumerInfo, type ConsumerMessages, DeliverPolicy, JetStreamApiCodes, JetStreamApiError, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';
import { errors, headers as natsHeaders, type MsgHdrs, nanos } from '@nats-io/transport-node';
import type { MessageHeaders } from './bus.js';

/** How long a delivered, unsettled message waits before JetStream delivers it again. */
const ACK_WAIT_MS = 30_000;

export function toNatsHeaders(headers: MessageHeaders | undefined): MsgHdrs | undefined {
  if (!headers) return undefined;
  const entries = Object.entries(headers);
  if (entries.length === 0) return undefined;
  const h = natsHeaders();
  for (const [name, value] of entries) h.set(name, value);
  return h;
}

export function fromNatsHeaders(h: MsgHdrs | undefined, dropTransport = false): MessageHeaders {
  const out: MessageHeaders = {};
  if (!h) return out;
  for (const name of h.keys()) {
    if (dropTransport && name.toLowerCase().startsWith('nats-')) continue;
    out[name] = h.get(name);
  }
  return out;
}

/** The decoded JSON value, or undefined when the bytes are not JSON (a malformed reply or message). */
export function parseJson(data: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(data)) as unknown;
  } catch {
    return undefined;
  }
}

export function isApiError(error: unknown, code: number): boolean {
  return error instanceof JetStreamApiError && error.code === code;
}

/** Creates the durable pull consumer, or brings its limits up to date; its filter is fixed once created (nats-server 2.9). */
export async function ensureDurable(jsm: JetStreamManager, stream: string, durable: string, filterSubject: string, maxAckPending: number): Promise<void> {
  const ackWait = nanos(ACK_WAIT_MS);
  let existing: ConsumerInfo;
  try {
    existing = await jsm.consumers.info(stream, durable);
  } catch (error) {
    if (!isApiError(error, JetStreamApiCodes.ConsumerNotFound)) throw error;
    await jsm.consumers.add(stream, {
      durable_name: durable,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      filter_subject: filterSubject,
      ack_wait: ackWait,
      max_ack_pending: maxAckPending,
    });
    return;
  }
  if (existing.config.filter_subject !== filterSubject) {
    throw new Error(`Durable ${durable} already exists with filter ${existing.config.filter_subject ?? '(none)'}`);
  }
  if (existing.config.max_ack_pending !== maxAckPending || existing.config.ack_wait !== ackWait) {
    await jsm.consumers.update(stream, durable, { max_ack_pending: maxAckPending, ack_wait: ackWait });
  }
}

/** The client refused to send a message over the server's `max_payload`. */
export function isMaxPayloadExceeded(error: unknown): boolean {
  return error instanceof errors.InvalidArgumentError && error.message.includes('max_payload');
}

/**
 * Hands a pull consumer's messages to `serve`, at most `maxInFlight` at once. `stop()` closes the
 * consumer, gives back (nak) what was fetched but not handed over — rather than letting it wait out
 * ack_wait — and resolves once the messages in hand are served. `onFailure` hears of a consumer that
 * ended by itself.
 */
export function serveMessages(messages: ConsumerMessages, maxInFlight: number, serve: (msg: JsMsg) => Promise<void>, onFailure: (error: unknown) => void): { stop(): Promise<void> } {
  const inFlight = new Set<Promise<void>>();
  let stopping = false;
  let freeSlot: (() => void) | undefined;
  const loop = (async () => {
    for await (const msg of messages) {
      while (inFlight.size >= maxInFlight && !stopping) await new Promise<void>((resolve) => (freeSlot = resolve));
      if (stopping) {
        msg.nak();
        continue;
      }
      const served = serve(msg);
      inFlight.add(served);
      void served.finally(() => {
        inFlight.delete(served);
        freeSlot?.();
      });
    }
  })().catch(onFailure);
  return {
    stop: async () => {
      stopping = true;
      freeSlot?.();
      await messages.close().catch(() => undefined);
      await loop;
      await Promise.allSettled([...inFlight]);
    },
  };
}
