import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { OpenAPIObject } from '@nestjs/swagger';
import type { FastifyInstance } from 'fastify';

export const OPENAPI_JSON_PATH = '/v1/openapi.json';
export const DOCS_PATH = '/docs';

/** The Swagger UI files the docs page loads, with their media types. */
const UI_ASSETS: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'application/javascript; charset=utf-8',
  'swagger-ui-standalone-preset.js': 'application/javascript; charset=utf-8',
  'favicon-32x32.png': 'image/png',
};

const DOCS_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Runyard API reference</title>
<link rel="icon" type="image/png" href="${DOCS_PATH}/favicon-32x32.png">
<link rel="stylesheet" href="${DOCS_PATH}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="${DOCS_PATH}/swagger-ui-bundle.js"></script>
<script src="${DOCS_PATH}/swagger-ui-standalone-preset.js"></script>
<script src="${DOCS_PATH}/init.js"></script>
</body>
</html>
`;

// A file rather than an inline script, so the page also works under a CSP without 'unsafe-inline'.
const DOCS_INIT_JS = `window.ui = SwaggerUIBundle({
  url: '${OPENAPI_JSON_PATH}',
  dom_id: '#swagger-ui',
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
  layout: 'StandaloneLayout',
});
`;

/** swagger-ui-dist as @nestjs/swagger depends on it (so its version is the one swagger was built for). */
function swaggerUiDirectory(): string {
  const fromHere = createRequire(import.meta.url);
  const fromSwagger = createRequire(fromHere.resolve('@nestjs/swagger'));
  return dirname(fromSwagger.resolve('swagger-ui-dist/package.json'));
}

/**
 * Serves the OpenAPI document at `/v1/openapi.json` and a Swagger UI page at `/docs`. Registered on
 * Fastify directly, outside Nest's guards: both are public. (Not `SwaggerModule.setup`: its UI needs
 * `@fastify/static`, which cannot load under jest on Node 20 and makes Nest exit the process.)
 */
export function serveOpenApi(fastify: FastifyInstance, document: OpenAPIObject): void {
  const json = JSON.stringify(document);
  const assets = new Map<string, Promise<Buffer>>();
  let directory: string | undefined;

  fastify.get(OPENAPI_JSON_PATH, async (_request, reply) => reply.type('application/json; charset=utf-8').send(json));
  fastify.get(DOCS_PATH, async (_request, reply) => reply.type('text/html; charset=utf-8').send(DOCS_HTML));
  fastify.get(`${DOCS_PATH}/init.js`, async (_request, reply) => reply.type('application/javascript; charset=utf-8').send(DOCS_INIT_JS));
  for (const [file, mediaType] of Object.entries(UI_ASSETS)) {
    fastify.get(`${DOCS_PATH}/${file}`, async (_request, reply) => {
      directory ??= swaggerUiDirectory();
      const path = join(directory, file);
      let content = assets.get(file);
      if (!content) {
        content = readFile(path);
        assets.set(file, content);
        void content.catch(() => assets.delete(file));
      }
      return reply.type(mediaType).header('cache-control', 'public, max-age=86400').send(await content);
    });
  }
}
