import { HttpException, HttpStatus } from '@nestjs/common';
import { DomainError, ErrorCode, type FieldError } from '@runyard/contracts';

/** RFC 9457 problem details, as every error of the public API is answered. */
export interface ProblemDetails {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ErrorCode;
  /** The request path (without its query string). */
  instance: string;
  request_id: string;
  /** Field-level problems; only on `validation_failed`. */
  errors?: FieldError[];
}

/** A problem and the headers that go with it, ready to send. */
export interface ProblemResponse {
  status: number;
  body: ProblemDetails;
  headers: Record<string, string>;
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';
const GENERIC_INTERNAL_DETAIL = 'An unexpected error occurred. Quote the request id when reporting it.';

/** `type` is a URN rather than a URL: it identifies the problem and promises no page to fetch. */
export function problemType(code: ErrorCode): string {
  return `urn:runyard:problem:${code}`;
}

/**
 * The one table from error code to HTTP status. Exhaustive: a new ErrorCode that is not mapped here
 * does not compile (the `never` default).
 */
export function statusOf(code: ErrorCode): { status: HttpStatus; title: string } {
  switch (code) {
    case ErrorCode.VALIDATION_FAILED:
      return { status: HttpStatus.BAD_REQUEST, title: 'Validation failed' };
    case ErrorCode.INVALID_CURSOR:
      return { status: HttpStatus.BAD_REQUEST, title: 'Invalid cursor' };
    case ErrorCode.PAYLOAD_TOO_LARGE:
      return { status: HttpStatus.PAYLOAD_TOO_LARGE, title: 'Payload too large' };
    case ErrorCode.UNSUPPORTED_MEDIA_TYPE:
      return { status: HttpStatus.UNSUPPORTED_MEDIA_TYPE, title: 'Unsupported media type' };
    case ErrorCode.UNAUTHENTICATED:
      return { status: HttpStatus.UNAUTHORIZED, title: 'Unauthenticated' };
    case ErrorCode.FORBIDDEN:
      return { status: HttpStatus.FORBIDDEN, title: 'Forbidden' };
    case ErrorCode.NOT_FOUND:
      return { status: HttpStatus.NOT_FOUND, title: 'Not found' };
    case ErrorCode.ROUTE_NOT_FOUND:
      return { status: HttpStatus.NOT_FOUND, title: 'Route not found' };
    case ErrorCode.METHOD_NOT_ALLOWED:
      return { status: HttpStatus.METHOD_NOT_ALLOWED, title: 'Method not allowed' };
    case ErrorCode.CONFLICT:
      return { status: HttpStatus.CONFLICT, title: 'Conflict' };
    case ErrorCode.SESSION_ARCHIVED:
      return { status: HttpStatus.CONFLICT, title: 'Session archived' };
    case ErrorCode.SESSION_BUSY:
      return { status: HttpStatus.CONFLICT, title: 'Session busy' };
    case ErrorCode.RUN_TERMINAL:
      return { status: HttpStatus.CONFLICT, title: 'Run terminal' };
    case ErrorCode.INVALID_TRANSITION:
      return { status: HttpStatus.CONFLICT, title: 'Invalid transition' };
    case ErrorCode.LEASE_LOST:
      return { status: HttpStatus.CONFLICT, title: 'Lease lost' };
    case ErrorCode.IDEMPOTENCY_KEY_REUSED:
      return { status: HttpStatus.UNPROCESSABLE_ENTITY, title: 'Idempotency key reused' };
    case ErrorCode.IDEMPOTENCY_REQUEST_IN_FLIGHT:
      return { status: HttpStatus.CONFLICT, title: 'Idempotent request in flight' };
    case ErrorCode.RATE_LIMITED:
      return { status: HttpStatus.TOO_MANY_REQUESTS, title: 'Rate limited' };
    case ErrorCode.SERVICE_UNAVAILABLE:
      return { status: HttpStatus.SERVICE_UNAVAILABLE, title: 'Service unavailable' };
    case ErrorCode.UPSTREAM_TIMEOUT:
      return { status: HttpStatus.GATEWAY_TIMEOUT, title: 'Upstream timeout' };
    case ErrorCode.INTERNAL_ERROR:
      return { status: HttpStatus.INTERNAL_SERVER_ERROR, title: 'Internal error' };
    default: {
      const unmapped: never = code;
      throw new Error(`unmapped error code ${String(unmapped)}`);
    }
  }
}

/** What the problem mapper needs to know about the request. */
export interface ProblemRequest {
  id: string;
  method: string;
  url: string;
}

interface Classified {
  code: ErrorCode;
  detail: string;
  errors?: FieldError[];
  retryAfterSeconds?: number;
  /** Not an expected failure: log it with its stack. */
  unexpected: boolean;
}

function fastifyCodeOf(exception: HttpException): string | undefined {
  const cause = exception.cause;
  if (cause && typeof cause === 'object' && 'code' in cause && typeof cause.code === 'string') return cause.code;
  return undefined;
}

function messageOf(exception: HttpException): string {
  const response = exception.getResponse();
  if (typeof response === 'string') return response;
  if (response && typeof response === 'object' && 'message' in response) {
    const message = response.message;
    if (typeof message === 'string') return message;
    if (Array.isArray(message)) return message.map(String).join('; ');
  }
  return exception.message;
}

type HttpClassifier = (request: ProblemRequest, exception: HttpException) => { code: ErrorCode; detail: string };

/** Nest's own exceptions by status: the router's 404, and Fastify's body errors (Nest wraps those <500). */
const HTTP_EXCEPTIONS = new Map<number, HttpClassifier>([
  [HttpStatus.NOT_FOUND, (request) => ({ code: ErrorCode.ROUTE_NOT_FOUND, detail: `No route matches ${request.method} ${pathOf(request.url)}` })],
  [HttpStatus.METHOD_NOT_ALLOWED, (request) => ({ code: ErrorCode.METHOD_NOT_ALLOWED, detail: `${request.method} is not allowed on ${pathOf(request.url)}` })],
  [HttpStatus.PAYLOAD_TOO_LARGE, () => ({ code: ErrorCode.PAYLOAD_TOO_LARGE, detail: 'The request body exceeds the size limit' })],
  [HttpStatus.UNSUPPORTED_MEDIA_TYPE, () => ({ code: ErrorCode.UNSUPPORTED_MEDIA_TYPE, detail: 'Request bodies must be application/json' })],
  [HttpStatus.UNAUTHORIZED, () => ({ code: ErrorCode.UNAUTHENTICATED, detail: 'Authentication required' })],
  [HttpStatus.FORBIDDEN, () => ({ code: ErrorCode.FORBIDDEN, detail: 'Not allowed' })],
  [HttpStatus.CONFLICT, (_request, exception) => ({ code: ErrorCode.CONFLICT, detail: messageOf(exception) })],
  [HttpStatus.TOO_MANY_REQUESTS, () => ({ code: ErrorCode.RATE_LIMITED, detail: 'Too many requests' })],
  [HttpStatus.SERVICE_UNAVAILABLE, () => ({ code: ErrorCode.SERVICE_UNAVAILABLE, detail: 'The service is unavailable; retry shortly' })],
  [HttpStatus.GATEWAY_TIMEOUT, () => ({ code: ErrorCode.UPSTREAM_TIMEOUT, detail: 'The service did not answer in time' })],
]);

const FASTIFY_BODY_ERRORS: Record<string, string | undefined> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'The request body is not valid JSON',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'The request body is empty but Content-Type is application/json',
};

function classifyHttpException(exception: HttpException, request: ProblemRequest): Classified {
  const status: number = exception.getStatus();
  const known = HTTP_EXCEPTIONS.get(status);
  if (known) return { ...known(request, exception), unexpected: false };
  if (status >= 500) return { code: ErrorCode.INTERNAL_ERROR, detail: GENERIC_INTERNAL_DETAIL, unexpected: true };
  // Any other 4xx (malformed or empty JSON body, bad content length, ...) is the request as sent.
  const fastifyCode = fastifyCodeOf(exception);
  const detail = (fastifyCode === undefined ? undefined : FASTIFY_BODY_ERRORS[fastifyCode]) ?? messageOf(exception);
  return { code: ErrorCode.VALIDATION_FAILED, detail, unexpected: false };
}

function classify(exception: unknown, request: ProblemRequest): Classified {
  if (exception instanceof DomainError) {
    if (exception.code === ErrorCode.INTERNAL_ERROR) return { code: exception.code, detail: GENERIC_INTERNAL_DETAIL, unexpected: true };
    const retryAfter = exception.details?.retryAfterSeconds;
    return {
      code: exception.code,
      detail: exception.message,
      errors: exception.details?.errors,
      retryAfterSeconds: typeof retryAfter === 'number' ? retryAfter : undefined,
      unexpected: false,
    };
  }
  if (exception instanceof HttpException) return classifyHttpException(exception, request);
  return { code: ErrorCode.INTERNAL_ERROR, detail: GENERIC_INTERNAL_DETAIL, unexpected: true };
}

export function pathOf(url: string): string {
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

/**
 * Maps any thrown value to the problem the client gets. Pure, so the exception filter and the
 * idempotency interceptor (which stores 4xx answers for replay) produce the same response.
 */
export function toProblem(exception: unknown, request: ProblemRequest): ProblemResponse & { unexpected: boolean } {
  const classified = classify(exception, request);
  const { status, title } = statusOf(classified.code);
  const body: ProblemDetails = {
    type: problemType(classified.code),
    title,
    status,
    detail: classified.detail,
    code: classified.code,
    instance: pathOf(request.url),
    request_id: request.id,
  };
  if (classified.code === ErrorCode.VALIDATION_FAILED && classified.errors && classified.errors.length > 0) body.errors = classified.errors;

  const headers: Record<string, string> = { 'content-type': PROBLEM_CONTENT_TYPE };
  const retryAfter = String(Math.max(1, Math.ceil(classified.retryAfterSeconds ?? 1)));
  if (status === HttpStatus.UNAUTHORIZED) headers['www-authenticate'] = 'Bearer';
  if (status === HttpStatus.TOO_MANY_REQUESTS || status === HttpStatus.SERVICE_UNAVAILABLE) headers['retry-after'] = retryAfter;
  return { status, body, headers, unexpected: classified.unexpected };
}
