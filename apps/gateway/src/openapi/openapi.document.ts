import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import { ErrorCode } from '@runyard/contracts';
import { IDEMPOTENCY_KEY_HEADER } from '../edge/idempotency/idempotency.interceptor.js';
import { PROBLEM_CONTENT_TYPE } from '../edge/problem.js';


type Operation = NonNullable<OpenAPIObject['paths'][string]['get']>;
type Responses = Operation['responses'];
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

const problemSchema = {
  type: 'object',
  description: 'RFC 9457 problem details; every error of this API has this shape, with a stable `code`.',
  required: ['type', 'title', 'status', 'detail', 'code', 'instance', 'request_id'],
  properties: {
    type: { type: 'string', format: 'uri', example: 'urn:runyard:problem:validation_failed' },
    title: { type: 'string', example: 'Validation failed' },
    status: { type: 'integer', example: 400 },
    detail: { type: 'string', example: 'Invalid payload: title: title must be shorter than or equal to 200 characters' },
    code: { type: 'string', enum: Object.values(ErrorCode), description: 'Stable, machine-readable; never renamed.' },
    instance: { type: 'string', description: 'The request path.', example: '/v1/sessions' },
    request_id: { type: 'string', description: 'Also in the X-Request-Id response header; quote it when reporting a problem.' },
    errors: {
      type: 'array',
      description: 'Field-level problems (validation_failed only).',
      items: {
        type: 'object',
        required: ['field', 'message'],
        properties: { field: { type: 'string', example: 'reply_targets.0.channel' }, message: { type: 'string' } },
      },
    },
  },
};

const header = (description: string, type: 'integer' | 'string' = 'integer') => ({ description, schema: { type } });

function problemResponse(description: string, headers?: Record<string, ReturnType<typeof header>>) {
  return { description, ...(headers ? { headers } : {}), content: { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: '#/components/schemas/Problem' } } } };
}

/** Reusable error responses, each a problem+json document. */
const problemResponses = {
  BadRequest: problemResponse('Invalid input (`validation_failed`, `invalid_cursor`); nothing was changed.'),
  Unauthenticated: problemResponse('Missing, invalid or revoked API key (`unauthenticated`).', {
    'WWW-Authenticate': header('`Bearer`', 'string'),
  }),
  Forbidden: problemResponse('The key may not do this (`forbidden`).'),
  NotFound: problemResponse('No such resource in the caller’s scope (`not_found`); foreign and malformed ids answer the same.'),
  Conflict: problemResponse(
    'The resource’s state does not allow this (`conflict`, `session_archived`), or a request with the same Idempotency-Key is still running (`idempotency_request_in_flight`).',
  ),
  PayloadTooLarge: problemResponse('The body exceeds the size limit (`payload_too_large`).'),
  UnsupportedMediaType: problemResponse('Bodies must be `application/json` (`unsupported_media_type`).'),
  IdempotencyKeyReused: problemResponse('The Idempotency-Key was already used with a different request (`idempotency_key_reused`).'),
  RateLimited: problemResponse('Too many requests for this API key (`rate_limited`).', {
    'Retry-After': header('Seconds to wait before retrying.'),
    'RateLimit-Limit': header('Requests allowed per window.'),
    'RateLimit-Remaining': header('Requests left in the current window.'),
    'RateLimit-Reset': header('Seconds until the window resets.'),
  }),
  ServiceUnavailable: problemResponse('A service behind the gateway is unavailable (`service_unavailable`); retry.', {
    'Retry-After': header('Seconds to wait before retrying.'),
  }),
  Error: problemResponse('Any other error (`internal_error`, `upstream_timeout`, ...).'),
};

const ref = (name: keyof typeof problemResponses) => ({ $ref: `#/components/responses/${name}` });

/** Adds an error response unless the route documented that status itself. */
function addResponse(responses: Responses, status: string, name: keyof typeof problemResponses): void {
  if (!(status in responses)) responses[status] = ref(name);
}

/** Documents what the edge adds to every route: its error responses and the Idempotency-Key header. */
function describeEdge(document: OpenAPIObject): void {
  document.components ??= {};
  document.components.schemas = { ...document.components.schemas, Problem: problemSchema };
  document.components.responses = { ...document.components.responses, ...problemResponses };

  for (const [path, item] of Object.entries(document.paths)) {
    for (const method of METHODS) {
      const operation = item[method];
      if (!operation) continue;
      const responses = operation.responses;
      const parameters = operation.parameters ?? [];
      const authenticated = (operation.security ?? []).length > 0;
      if (authenticated) {
        addResponse(responses, '401', 'Unauthenticated');
        addResponse(responses, '403', 'Forbidden');
        addResponse(responses, '429', 'RateLimited');
      }
      if (operation.requestBody || parameters.some((p) => 'in' in p && p.in === 'query')) addResponse(responses, '400', 'BadRequest');
      if (operation.requestBody) {
        addResponse(responses, '413', 'PayloadTooLarge');
        addResponse(responses, '415', 'UnsupportedMediaType');
      }
      if (path.includes('{')) addResponse(responses, '404', 'NotFound');
      if (method === 'post' && authenticated) {
        addResponse(responses, '409', 'Conflict');
        addResponse(responses, '422', 'IdempotencyKeyReused');
        operation.parameters = [
          ...parameters,
          {
            name: IDEMPOTENCY_KEY_HEADER,
            in: 'header',
            required: false,
            description:
              'Makes a retry safe: the same key with the same request returns the original response (with `Idempotent-Replayed: true`) for 24 h. 1–255 printable ASCII characters, scoped to the caller and route.',
            schema: { type: 'string', maxLength: 255 },
          },
        ];
      }
      if (authenticated) addResponse(responses, '503', 'ServiceUnavailable');
      addResponse(responses, 'default', 'Error');
    }
  }
}

/** The OpenAPI 3 document: the reference for clients (served at /v1/openapi.json, browsable at /docs). */
export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('Runyard API')
    .setDescription(
      [
        'The control plane for AI-agent sessions and runs.',
        '',
        'Authenticate with an API key: `Authorization: Bearer <key>`. JSON bodies with snake_case fields; ids are UUIDv7; timestamps RFC 3339 UTC.',
        'Lists are paginated with `?limit=&cursor=` and answer `{ "data": [...], "next_cursor": ... }`.',
        'Every error is an `application/problem+json` document with a stable `code`; every response carries `X-Request-Id`.',
        'POSTs honour `Idempotency-Key`; rate limits answer 429 with `Retry-After`.',
        'Live streams are Server-Sent Events: each event\'s `id` is a cursor to resume from with `Last-Event-ID`; heartbeats are `: ping` comments.',
      ].join('\n'),
    )
    .setVersion('1')
    .addServer('/', 'This gateway')
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'A Runyard API key.' })
    .addTag('sessions', 'Sessions and their chat messages.')
    .addTag('tenants', 'Tenants (system key only).')
    .addTag('principals', 'Users, service accounts, workers and integrations of a tenant.')
    .addTag('api-keys', 'API keys of principals.')
    .addTag('identity', 'Who the calling key belongs to.')
    .addTag('audit', 'The audit trail of a tenant.')
    .addTag('events', 'Live event streams (Server-Sent Events), resumable with `Last-Event-ID`.')
    .build();
  const document = SwaggerModule.createDocument(app, config, {
    operationIdFactory: (controllerKey: string, methodKey: string) => `${controllerKey.replace(/Controller$/, '')}_${methodKey}`,
  });
  describeEdge(document);
  return document;
}
