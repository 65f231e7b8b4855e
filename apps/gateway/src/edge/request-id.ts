import type { IncomingMessage } from 'node:http';
import { v7 as uuidv7 } from 'uuid';

export const REQUEST_ID_HEADER = 'x-request-id';

/** Letters, digits and a few separators, at most 128 chars: safe to echo, log and pass downstream. */
const SANE_REQUEST_ID = /^[A-Za-z0-9][A-Za-z0-9._:+=/-]{0,127}$/;

/**
 * Fastify `genReqId`: a caller-supplied `X-Request-Id` is kept when it is a sane token, so a request
 * can be followed from the client through the gateway to the services; anything else gets a fresh
 * UUIDv7 (never echo arbitrary header bytes into logs and responses).
 */
export function generateRequestId(request: Pick<IncomingMessage, 'headers'>): string {
  const incoming = request.headers[REQUEST_ID_HEADER];
  if (typeof incoming === 'string' && SANE_REQUEST_ID.test(incoming)) return incoming;
  return uuidv7();
}
