/**
 * Stable error codes. They are part of the public API (problem+json `code`) and of the NATS reply
 * contract, so a code is never renamed. Every transport maps every code exhaustively.
 */
export enum ErrorCode {
  VALIDATION_FAILED = 'validation_failed',
  INVALID_CURSOR = 'invalid_cursor',
  PAYLOAD_TOO_LARGE = 'payload_too_large',
  UNSUPPORTED_MEDIA_TYPE = 'unsupported_media_type',
  UNAUTHENTICATED = 'unauthenticated',
  FORBIDDEN = 'forbidden',
  NOT_FOUND = 'not_found',
  ROUTE_NOT_FOUND = 'route_not_found',
  METHOD_NOT_ALLOWED = 'method_not_allowed',
  CONFLICT = 'conflict',
  SESSION_ARCHIVED = 'session_archived',
  SESSION_BUSY = 'session_busy',
  RUN_TERMINAL = 'run_terminal',
  INVALID_TRANSITION = 'invalid_transition',
  LEASE_LOST = 'lease_lost',
  IDEMPOTENCY_KEY_REUSED = 'idempotency_key_reused',
  IDEMPOTENCY_REQUEST_IN_FLIGHT = 'idempotency_request_in_flight',
  RATE_LIMITED = 'rate_limited',
  SERVICE_UNAVAILABLE = 'service_unavailable',
  UPSTREAM_TIMEOUT = 'upstream_timeout',
  INTERNAL_ERROR = 'internal_error',
}

const ERROR_CODES = new Set<string>(Object.values(ErrorCode));
export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && ERROR_CODES.has(value);
}

/** One field-level problem, as carried in `errors` of a validation_failed problem. */
export interface FieldError {
  field: string;
  message: string;
}

/** Thrown by services for any expected failure; transports map `code` to their own shape. */
export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: { errors?: FieldError[]; [key: string]: unknown },
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

/** The body of every NATS reply: a result or a coded error, never a thrown transport error. */
export type Reply<T> = { ok: true; data: T } | { ok: false; error: { code: ErrorCode; message: string; details?: DomainError['details'] } };
