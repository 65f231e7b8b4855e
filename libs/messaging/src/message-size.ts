import { DomainError, ErrorCode } from '@runyard/contracts';
import type { MessageHeaders } from './bus.js';

/** NATS's default `max_payload`: the largest message (data plus headers) a server accepts. */
export const DEFAULT_MAX_PAYLOAD_BYTES = 1024 * 1024;

/** `NATS/1.0\r\n` … `\r\n`: what a header block costs beyond its names and values. */
const HEADER_BLOCK_BYTES = 12;

/** The size NATS counts for a message: its data plus its encoded headers (`name: value\r\n` each). */
export function messageBytes(data: string, headers?: MessageHeaders): number {
  let bytes = Buffer.byteLength(data, 'utf8');
  const entries = Object.entries(headers ?? {});
  if (entries.length > 0) {
    bytes += HEADER_BLOCK_BYTES;
    for (const [name, value] of entries) bytes += Buffer.byteLength(name, 'utf8') + Buffer.byteLength(value, 'utf8') + 4;
  }
  return bytes;
}

export function payloadTooLarge(what: string, bytes: number, limit: number): DomainError {
  return new DomainError(ErrorCode.PAYLOAD_TOO_LARGE, `${what} is ${bytes} bytes, over the ${limit}-byte message limit`);
}

/**
 * Refuses a message the transport would not carry, before anything is sent: NATS drops an oversized
 * message (or its client throws), and the in-process bus keeps the same limit so both fail alike.
 */
export function assertMessageFits(what: string, data: string, headers: MessageHeaders | undefined, limit: number): void {
  const bytes = messageBytes(data, headers);
  if (bytes > limit) throw payloadTooLarge(what, bytes, limit);
}

export function assertPayloadLimit(limit: number): void {
  if (!Number.isSafeInteger(limit) || limit < 1) throw new Error(`maxPayloadBytes must be a positive integer, not ${limit}`);
}
