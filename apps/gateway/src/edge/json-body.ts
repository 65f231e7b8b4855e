import type { FastifyInstance } from 'fastify';

/**
 * The API takes JSON bodies only: Fastify's default text/plain parser is removed, so any other media
 * type is refused with 415 before a handler runs. An empty body sent with `Content-Type:
 * application/json` (common for action routes like `POST .../archive`) counts as no body; any other
 * body goes through Fastify's own JSON parser, with its prototype-poisoning protection.
 * The size limit is Fastify's `bodyLimit` (413 before the body is buffered in full).
 */
export function acceptJsonBodiesOnly(fastify: FastifyInstance): void {
  const parseJson = fastify.getDefaultJsonParser('error', 'error');
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim().length === 0) {
      done(null, undefined);
      return;
    }
    void parseJson(request, text, done);
  });
}
