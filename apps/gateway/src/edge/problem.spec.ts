import { describe, expect, it } from '@jest/globals';
import { HttpException, NotFoundException } from '@nestjs/common';
import { DomainError, ErrorCode } from '@runyard/contracts';
import { PROBLEM_CONTENT_TYPE, statusOf, toProblem } from './problem.js';

const request = { id: 'req-1', method: 'POST', url: '/v1/sessions?cursor=abc' };

/** The public contract: each code's HTTP status. Changing one is a breaking API change. */
const EXPECTED_STATUS: Record<ErrorCode, number> = {
  [ErrorCode.VALIDATION_FAILED]: 400,
  [ErrorCode.INVALID_CURSOR]: 400,
  [ErrorCode.PAYLOAD_TOO_LARGE]: 413,
  [ErrorCode.UNSUPPORTED_MEDIA_TYPE]: 415,
  [ErrorCode.UNAUTHENTICATED]: 401,
  [ErrorCode.FORBIDDEN]: 403,
  [ErrorCode.NOT_FOUND]: 404,
  [ErrorCode.ROUTE_NOT_FOUND]: 404,
  [ErrorCode.METHOD_NOT_ALLOWED]: 405,
  [ErrorCode.CONFLICT]: 409,
  [ErrorCode.SESSION_ARCHIVED]: 409,
  [ErrorCode.SESSION_BUSY]: 409,
  [ErrorCode.RUN_TERMINAL]: 409,
  [ErrorCode.INVALID_TRANSITION]: 409,
  [ErrorCode.LEASE_LOST]: 409,
  [ErrorCode.IDEMPOTENCY_KEY_REUSED]: 422,
  [ErrorCode.IDEMPOTENCY_REQUEST_IN_FLIGHT]: 409,
  [ErrorCode.RATE_LIMITED]: 429,
  [ErrorCode.SERVICE_UNAVAILABLE]: 503,
  [ErrorCode.UPSTREAM_TIMEOUT]: 504,
  [ErrorCode.INTERNAL_ERROR]: 500,
};

/** A Fastify error as Nest's adapter hands it to the filter (HttpException with the FastifyError as cause). */
function fastifyError(status: number, code: string, message: string): HttpException {
  return new HttpException(message, status, { cause: Object.assign(new Error(message), { name: 'FastifyError', code, statusCode: status }) });
}

describe('problem mapping', () => {
  it.each(Object.values(ErrorCode))('maps %s to its status with a problem+json body', (code) => {
    expect(statusOf(code).status).toBe(EXPECTED_STATUS[code]);
    const problem = toProblem(new DomainError(code, 'what went wrong'), request);
    expect(problem.status).toBe(EXPECTED_STATUS[code]);
    expect(problem.headers['content-type']).toBe(PROBLEM_CONTENT_TYPE);
    expect(problem.body).toMatchObject({
      type: `urn:runyard:problem:${code}`,
      title: statusOf(code).title,
      status: EXPECTED_STATUS[code],
      code,
      instance: '/v1/sessions',
      request_id: 'req-1',
    });
    expect(problem.body.detail).toEqual(expect.any(String));
  });

  it('passes a domain error’s message as detail and its field errors as errors', () => {
    const errors = [{ field: 'body.title', message: 'title must be a string' }];
    const problem = toProblem(new DomainError(ErrorCode.VALIDATION_FAILED, 'Invalid payload', { errors }), request);
    expect(problem.body.detail).toBe('Invalid payload');
    expect(problem.body.errors).toEqual(errors);
    expect(problem.unexpected).toBe(false);
  });

  it('adds WWW-Authenticate to 401 and Retry-After to 429 and 503', () => {
    expect(toProblem(new DomainError(ErrorCode.UNAUTHENTICATED, 'no key'), request).headers['www-authenticate']).toBe('Bearer');
    const limited = toProblem(new DomainError(ErrorCode.RATE_LIMITED, 'slow down', { retryAfterSeconds: 7 }), request);
    expect(limited.headers['retry-after']).toBe('7');
    const unavailable = toProblem(new DomainError(ErrorCode.SERVICE_UNAVAILABLE, 'bus down'), request);
    expect(unavailable.headers['retry-after']).toBe('1');
    expect(toProblem(new DomainError(ErrorCode.UPSTREAM_TIMEOUT, 'slow'), request).headers['retry-after']).toBeUndefined();
  });

  it('maps Nest and Fastify HTTP errors to their codes', () => {
    const route = toProblem(new NotFoundException('Cannot GET /v1/nope'), { ...request, method: 'GET', url: '/v1/nope' });
    expect(route.body).toMatchObject({ status: 404, code: ErrorCode.ROUTE_NOT_FOUND, detail: 'No route matches GET /v1/nope' });
    expect(toProblem(new HttpException('nope', 405), request).body.code).toBe(ErrorCode.METHOD_NOT_ALLOWED);
    expect(toProblem(fastifyError(413, 'FST_ERR_CTP_BODY_TOO_LARGE', 'Request body is too large'), request).body).toMatchObject({
      status: 413,
      code: ErrorCode.PAYLOAD_TOO_LARGE,
    });
    expect(toProblem(fastifyError(415, 'FST_ERR_CTP_INVALID_MEDIA_TYPE', "Unsupported Media Type: 'text/plain'"), request).body).toMatchObject({
      status: 415,
      code: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
    });
    expect(toProblem(fastifyError(400, 'FST_ERR_CTP_INVALID_JSON_BODY', "Body is not valid JSON but content-type is set to 'application/json'"), request).body).toMatchObject({
      status: 400,
      code: ErrorCode.VALIDATION_FAILED,
      detail: 'The request body is not valid JSON',
    });
  });

  it('answers anything unexpected with a generic 500 that reveals nothing', () => {
    const problem = toProblem(new Error('password=hunter2 in a connection string'), request);
    expect(problem.status).toBe(500);
    expect(problem.unexpected).toBe(true);
    expect(problem.body.code).toBe(ErrorCode.INTERNAL_ERROR);
    expect(JSON.stringify(problem.body)).not.toContain('hunter2');

    const fromBus = toProblem(new DomainError(ErrorCode.INTERNAL_ERROR, 'relation "sessions" does not exist'), request);
    expect(fromBus.body.detail).not.toContain('relation');
    expect(fromBus.unexpected).toBe(true);

    expect(toProblem(new HttpException('boom', 502), request).body.code).toBe(ErrorCode.INTERNAL_ERROR);
  });
});
