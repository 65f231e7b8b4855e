import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { IDEMPOTENT_REPLAYED_HEADER } from '../edge/idempotency/idempotent-replay.js';
import './audit-context.js';
import type { AuditService } from './audit.service.js';

const MUTATING_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const MAX_FALLBACK_PATH = 200;

/** `"<METHOD> <route pattern>"`, for requests that never reached an `@Audited` handler. */
function fallbackAction(request: FastifyRequest): string {
  const pattern = request.routeOptions.url ?? request.url.split('?', 1)[0] ?? '';
  return `${request.method} ${pattern.slice(0, MAX_FALLBACK_PATH)}`;
}

/**
 * Records every mutating request with its outcome (from the status code), so the audit trail covers
 * refused requests too: 400s, 403s, 404s, 429s. Reads are not audited. A request some component
 * already recorded (the AuthGuard's `auth.failed`) is skipped. A retry answered from the idempotency
 * store changed nothing: it is recorded as such (`metadata.idempotent_replay`, and a reason), so the
 * trail does not show the action twice.
 *
 * It runs as the response is about to be sent and the response waits for the audit row to commit
 * (group commit keeps that to one INSERT for many requests): once a client has its answer, the audit
 * trail has the request, even if the gateway dies the next moment. A failed insert is logged, and the
 * answer still goes out — the change it describes has already happened.
 */
export function registerAuditHook(fastify: FastifyInstance, audit: AuditService): void {
  fastify.addHook('onSend', async (request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
    if (!MUTATING_METHODS.has(request.method) || request.audit?.recorded) return payload;
    (request.audit ??= {}).recorded = true;
    const caller = request.caller;
    const context = request.audit ?? {};
    const statusCode = reply.statusCode;
    const replayed = reply.getHeader(IDEMPOTENT_REPLAYED_HEADER) === 'true';
    try {
      await audit.record({
        tenantId: caller?.tenantId ?? null,
        actorId: caller?.principalId ?? null,
        actorKind: caller ? (caller.kind === 'system' ? 'system' : 'principal') : 'anonymous',
        action: context.action ?? fallbackAction(request),
        targetType: context.targetType ?? null,
        targetId: context.targetId ?? null,
        outcome: statusCode < 400 ? 'success' : 'failure',
        requestId: request.id,
        statusCode,
        reason: replayed ? 'idempotent replay: the stored answer of an earlier request with this Idempotency-Key; nothing was done again' : context.reason,
        metadata: {
          method: request.method,
          route: request.routeOptions.url ?? null,
          ...(caller ? { api_key_prefix: caller.apiKeyPrefix } : {}),
          ...(replayed ? { idempotent_replay: true } : {}),
        },
      });
    } catch (error) {
      request.log.error({ err: error, request_id: request.id }, 'audit event could not be recorded');
    }
    return payload;
  });
}
