import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { IDEMPOTENCY_KEY_HEADER } from './idempotency.interceptor.js';

/**
 * The request's Idempotency-Key, as the IdempotencyInterceptor read it (it has refused a malformed
 * one before the handler runs), handed down so the owning service enforces it too: the gateway's
 * store forgets a request whose answer timed out, the service's unique index does not. A param
 * decorator of its own (not `@Headers`), so the OpenAPI document lists the header once, as the edge does.
 */
export const IdempotencyKey = createParamDecorator((_data: unknown, context: ExecutionContext): string | undefined => {
  const value = context.switchToHttp().getRequest<FastifyRequest>().headers[IDEMPOTENCY_KEY_HEADER];
  return typeof value === 'string' ? value.trim() : undefined;
});
