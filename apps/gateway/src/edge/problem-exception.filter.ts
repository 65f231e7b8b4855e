import { Catch, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { IDEMPOTENT_REPLAYED_HEADER, IdempotentReplay } from './idempotency/idempotent-replay.js';
import { toProblem } from './problem.js';

/**
 * The one place errors become HTTP responses: every exception — from services over the bus, guards,
 * pipes, Nest's router (404) and Fastify's body parsing (413, 415, malformed JSON) — leaves as an RFC
 * 9457 `application/problem+json` document (mapping in problem.ts). Unexpected errors are logged with
 * the request id (name, message and stack only: error objects can carry query parameters) and answer
 * a generic 500.
 */
@Catch()
export class ProblemExceptionFilter implements ExceptionFilter {
  catch(exception: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') throw exception;
    const http = host.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const reply = http.getResponse<FastifyReply>();
    if (reply.sent) return;

    if (exception instanceof IdempotentReplay) {
      const { status, headers, body } = exception.response;
      void reply
        .status(status)
        .headers({ ...headers, [IDEMPOTENT_REPLAYED_HEADER]: 'true' })
        .send(JSON.stringify(body));
      return;
    }

    const problem = toProblem(exception, request);
    if (problem.unexpected) {
      const error = exception instanceof Error ? exception : new Error(String(exception));
      request.log.error({ err: { type: error.name, message: error.message, stack: error.stack } }, 'unexpected error');
    }
    void reply.status(problem.status).headers(problem.headers).send(JSON.stringify(problem.body));
  }
}
