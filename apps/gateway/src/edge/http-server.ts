import { FastifyAdapter } from '@nestjs/platform-fastify';
import type { Logger } from '@runyard/runtime';
import type { FastifyInstance } from 'fastify';
import { acceptJsonBodiesOnly } from './json-body.js';
import { generateRequestId, REQUEST_ID_HEADER } from './request-id.js';
import { GatewayLogController } from './request-logging.js';
import { installTraceContext } from './trace-context.js';

/**
 * The Fastify server under the gateway: the app's pino logger (every `request.log` line carries the
 * `request_id`), one completion line per request, request ids from `X-Request-Id` or UUIDv7, and the
 * body size limit (413 beyond it).
 */
export function createEdgeAdapter(logger: Logger, bodyLimitBytes: number): FastifyAdapter {
  return new FastifyAdapter({
    loggerInstance: logger,
    logController: new GatewayLogController(),
    genReqId: generateRequestId,
    bodyLimit: bodyLimitBytes,
  });
}

/**
 * Before `app.init()`: JSON-only bodies, the request id echoed on every response, and the W3C trace
 * context (`traceparent` accepted or started, answered, and around every handler).
 */
export function installEdgeHooks(fastify: FastifyInstance): void {
  acceptJsonBodiesOnly(fastify);
  fastify.addHook('onRequest', (request, reply, done) => {
    void reply.header(REQUEST_ID_HEADER, request.id);
    done();
  });
  installTraceContext(fastify);
}
