import { DomainError, ErrorCode } from '@runyard/contracts';
import type { FastifyInstance, FastifyRequest } from 'fastify';

export const NDJSON_CONTENT_TYPE = 'application/x-ndjson';
/** The one route that takes NDJSON: a run's log batch. Any other route answers 415 to it, as before. */
const NDJSON_ROUTES = new Set(['POST /v1/runs/:id/logs']);


/**
 * Adds `application/x-ndjson` bodies next to the edge's JSON-only rule, for the log route only: each
 * non-empty line is one JSON log line, and the body reaches the handler as `{ lines: [...] }` — the
 * same shape (and validation) as a JSON batch. Lines are parsed with Fastify's own JSON parser
 * (prototype-poisoning protection); the body limit is the edge's.
 */
export function acceptNdjsonLogBatches(fastify: FastifyInstance): void {
  const parseJson = fastify.getDefaultJsonParser('error', 'error');
  fastify.addContentTypeParser(NDJSON_CONTENT_TYPE, { parseAs: 'string' }, (request: FastifyRequest, body, done) => {
    if (!NDJSON_ROUTES.has(`${request.method} ${request.routeOptions.url ?? ''}`)) {
      done(new DomainError(ErrorCode.UNSUPPORTED_MEDIA_TYPE, `${NDJSON_CONTENT_TYPE} bodies are taken by POST /v1/runs/{id}/logs only; send application/json`), undefined);
      return;
    }
    const text = typeof body === 'string' ? body : body.toString('utf8');
    const lines: unknown[] = [];
    const rows = text.split('\n');
    for (let index = 0; index < rows.length; index++) {
      const row = rows[index].trim();
      if (row.length === 0) continue;
      let failed: Error | null = null;
      // Fastify's parser answers through its callback, synchronously.
      void parseJson(request, row, (error: Error | null, value: unknown) => {
        if (error) failed = error;
        else lines.push(value);
      });
      if (failed !== null) {
        const message = `line ${index + 1} of the NDJSON body is not valid JSON`;
        done(new DomainError(ErrorCode.VALIDATION_FAILED, message, { errors: [{ field: 'body', message }] }), undefined);
        return;
      }
    }
    done(null, { lines });
  });
}
