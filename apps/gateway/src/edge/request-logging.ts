import { LogController, type FastifyReply, type FastifyRequest } from 'fastify';
import { pathOf } from './problem.js';

/** The label of the request id on every log line written through `request.log`. */
export const REQUEST_ID_LOG_LABEL = 'request_id';

/**
 * One structured line per request, written by Fastify once the response has finished (so it covers
 * routed, unmatched and rejected requests alike). Only what is needed to follow a request: never
 * headers (Authorization) and never bodies. The request id comes from the child logger's bindings.
 */
export class GatewayLogController extends LogController {
  constructor() {
    super({ disableRequestLogging: false, requestIdLogLabel: REQUEST_ID_LOG_LABEL });
  }

  /** The completion line says everything; an "incoming" line would double the volume for nothing. */
  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const status = reply.statusCode;
    const line = {
      method: request.method,
      route: request.routeOptions.url ?? pathOf(request.url),
      status,
      duration_ms: Math.round(reply.elapsedTime * 100) / 100,
      tenant_id: request.caller?.tenantId ?? undefined,
      principal_id: request.caller?.principalId,
      api_key_prefix: request.caller?.apiKeyPrefix,
    };
    if (error) request.log.error({ ...line, err: { type: error.name, message: error.message } }, 'request failed');
    else if (status >= 500) request.log.error(line, 'request completed');
    else request.log.info(line, 'request completed');
  }
}
