import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import {
  Body,
  Controller,
  Get,
  HttpCode,
  Injectable,
  Module,
  Param,
  Post,
  Query,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_INTERCEPTOR, APP_PIPE, NestFactory } from '@nestjs/core';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { DomainError, ErrorCode, ListMessagesQuery } from '@runyard/contracts';
import { expectEventually } from '@runyard/testing';
import { traceContext, type TraceContext } from '@runyard/messaging';
import { IsString, MaxLength } from 'class-validator';
import type { FastifyRequest } from 'fastify';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { GatewaySettings } from '../config.js';
import { createEdgeAdapter, installEdgeHooks } from './http-server.js';
import { IdempotencyInterceptor } from './idempotency/idempotency.interceptor.js';
import { IDEMPOTENCY_STORE } from './idempotency/idempotency.store.js';
import { MemoryIdempotencyStore } from './idempotency/memory-idempotency.store.js';
import { ProblemExceptionFilter } from './problem-exception.filter.js';
import { RateLimitGuard } from './rate-limit/rate-limit.guard.js';
import { createRateLimiter, RATE_LIMITER } from './rate-limit/rate-limiter.js';
import { GATEWAY_SETTINGS } from './tokens.js';
import { DtoValidationPipe } from './validation.pipe.js';

// The edge on its own, over real HTTP: a test controller behind the same global filter, pipe,
// guards and interceptor the gateway registers, with a stand-in for the AuthGuard.

const settings: GatewaySettings = { bodyLimitBytes: 4096, rateLimitPoints: 5, rateLimitDurationSeconds: 60, requestTimeoutMs: 1000 };
const KEY = 'Bearer test-key';
/** A second key whose requests share one rate-limit budget (KEY's requests each get their own). */
const LIMITED_KEY = 'Bearer limited-key';

class NoteBody {
  @IsString()
  @MaxLength(50)
  text!: string;
}

const calls = { create: 0 };
let failNext: Error | undefined;

/** The trace the last `create` ran in. */
let handlerTrace: TraceContext | undefined;

@Controller('v1/notes')
class NotesController {
  @Post()
  @HttpCode(201)
  create(@Body() body: NoteBody): { id: string; text: string } {
    calls.create += 1;
    handlerTrace = traceContext();
    if (failNext) {
      const failure = failNext;
      failNext = undefined;
      throw failure;
    }
    return { id: `note-${calls.create}`, text: body.text };
  }

  @Get()
  list(@Query() query: ListMessagesQuery): { limit: number | undefined; after_seq: number | undefined } {
    return { limit: query.limit, after_seq: query.after_seq };
  }

  @Get(':id')
  get(@Param('id') id: string): never {
    throw new DomainError(ErrorCode.NOT_FOUND, `note ${id} not found`);
  }

  @Post('fail/:code')
  fail(@Param('code') code: string): never {
    if (code === 'unexpected') throw new Error('db password is hunter2');
    throw new DomainError(code as ErrorCode, `failed with ${code}`);
  }
}

/** Stands in for the AuthGuard: sets `request.caller` for the two test keys. */
@Injectable()
class FakeAuthGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const authorization = request.headers.authorization;
    if (authorization !== KEY && authorization !== LIMITED_KEY) throw new DomainError(ErrorCode.UNAUTHENTICATED, 'invalid or revoked API key');
    // A fresh principal per request keeps the (tiny) per-principal rate limit out of the other tests'
    // way; requests with an Idempotency-Key share one, as a client's retries do (it scopes the key).
    const idempotencyKey = request.headers['idempotency-key'];
    const caller = authorization === LIMITED_KEY ? 'limited' : typeof idempotencyKey === 'string' ? `idem-${idempotencyKey}` : `fresh-${request.id}`;
    request.caller = { kind: 'tenant', tenantId: 'tenant-1', principalId: `principal-${caller}`, role: 'admin', apiKeyId: `key-${caller}`, apiKeyPrefix: 'ryk_test' };
    return true;
  }
}

@Module({
  controllers: [NotesController],
  providers: [
    { provide: GATEWAY_SETTINGS, useValue: settings },
    { provide: IDEMPOTENCY_STORE, useValue: new MemoryIdempotencyStore() },
    { provide: RATE_LIMITER, useValue: createRateLimiter({ points: settings.rateLimitPoints, durationSeconds: settings.rateLimitDurationSeconds }) },
    { provide: APP_FILTER, useClass: ProblemExceptionFilter },
    { provide: APP_PIPE, useClass: DtoValidationPipe },
    { provide: APP_GUARD, useClass: FakeAuthGuard },
    { provide: APP_GUARD, useClass: RateLimitGuard },
    { provide: APP_INTERCEPTOR, useClass: IdempotencyInterceptor },
  ],
})
class EdgeTestModule {}

const logLines: Record<string, unknown>[] = [];
const logStream = new Writable({
  write(chunk: Buffer, _encoding, done) {
    for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) logLines.push(JSON.parse(line) as Record<string, unknown>);
    done();
  },
});

let app: NestFastifyApplication;
let base: string;

beforeAll(async () => {
  const logger = pino({ level: 'info' }, logStream);
  const adapter = createEdgeAdapter(logger, settings.bodyLimitBytes);
  app = await NestFactory.create<NestFastifyApplication>(EdgeTestModule, adapter, { bodyParser: false, abortOnError: false, logger: false });
  installEdgeHooks(adapter.getInstance());
  await app.listen(0, '127.0.0.1');
  const address = app.getHttpServer().address();
  base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});

afterAll(async () => {
  await app.close();
});

beforeEach(() => {
  calls.create = 0;
  failNext = undefined;
});

async function send(method: string, path: string, init: { body?: string; headers?: Record<string, string> } = {}) {
  const response = await fetch(`${base}${path}`, { method, body: init.body, headers: { authorization: KEY, ...init.headers } });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: (text ? JSON.parse(text) : undefined) as Record<string, unknown> };
}

const json = (value: unknown, headers: Record<string, string> = {}) => ({ body: JSON.stringify(value), headers: { 'content-type': 'application/json', ...headers } });

describe('the edge over HTTP', () => {
  it('answers every error as problem+json with the request id, echoed in X-Request-Id', async () => {
    const response = await send('GET', '/v1/notes/abc', { headers: { 'x-request-id': 'client-req-42' } });
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(response.headers.get('x-request-id')).toBe('client-req-42');
    expect(response.body).toEqual({
      type: 'urn:runyard:problem:not_found',
      title: 'Not found',
      status: 404,
      detail: 'note abc not found',
      code: 'not_found',
      instance: '/v1/notes/abc',
      request_id: 'client-req-42',
    });
  });

  it('generates a request id when none (or an unsafe one) is sent', async () => {
    const response = await send('GET', '/v1/nowhere', { headers: { 'x-request-id': 'bad id with spaces' } });
    expect(response.status).toBe(404);
    expect(response.body.code).toBe('route_not_found');
    expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(response.body.request_id).toBe(response.headers.get('x-request-id'));
  });

  it('adds WWW-Authenticate to 401', async () => {
    const response = await send('GET', '/v1/notes', { headers: { authorization: 'Bearer wrong' } });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('Bearer');
    expect(response.body.code).toBe('unauthenticated');
  });

  it('takes JSON bodies only, within the size limit', async () => {
    const text = await send('POST', '/v1/notes', { body: 'hello', headers: { 'content-type': 'text/plain' } });
    expect(text.status).toBe(415);
    expect(text.body.code).toBe('unsupported_media_type');

    const large = await send('POST', '/v1/notes', json({ text: 'x'.repeat(settings.bodyLimitBytes) }));
    expect(large.status).toBe(413);
    expect(large.body.code).toBe('payload_too_large');

    const malformed = await send('POST', '/v1/notes', { body: '{"text":', headers: { 'content-type': 'application/json' } });
    expect(malformed.status).toBe(400);
    expect(malformed.body).toMatchObject({ code: 'validation_failed', detail: 'The request body is not valid JSON' });
    expect(calls.create).toBe(0);
  });

  it('validates bodies (unknown fields refused, field errors listed) and converts query numbers', async () => {
    const invalid = await send('POST', '/v1/notes', json({ text: 7, extra: true }));
    expect(invalid.status).toBe(400);
    expect(invalid.body.code).toBe('validation_failed');
    expect(invalid.body.errors).toEqual(
      expect.arrayContaining([
        { field: 'text', message: 'text must be a string' },
        { field: 'extra', message: 'property extra should not exist' },
      ]),
    );
    const empty = await send('POST', '/v1/notes', { body: '', headers: { 'content-type': 'application/json' } });
    expect(empty.status).toBe(400);
    expect(empty.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ field: 'text' })]));
    expect(calls.create).toBe(0);

    const listed = await send('GET', '/v1/notes?limit=20&after_seq=3');
    expect(listed.body).toEqual({ limit: 20, after_seq: 3 });
    expect((await send('GET', '/v1/notes?limit=abc')).status).toBe(400);
  });

  it('maps bus failures to 503 with Retry-After and 504, and hides unexpected errors behind a logged 500', async () => {
    const unavailable = await send('POST', '/v1/notes/fail/service_unavailable');
    expect(unavailable.status).toBe(503);
    expect(unavailable.headers.get('retry-after')).toBe('1');
    expect((await send('POST', '/v1/notes/fail/upstream_timeout')).status).toBe(504);

    const unexpected = await send('POST', '/v1/notes/fail/unexpected', { headers: { 'x-request-id': 'boom-1' } });
    expect(unexpected.status).toBe(500);
    expect(unexpected.body.code).toBe('internal_error');
    expect(JSON.stringify(unexpected.body)).not.toContain('hunter2');
    await expectEventually(() => expect(logLines).toContainEqual(expect.objectContaining({ request_id: 'boom-1', msg: 'unexpected error' })));
  });

  it('replays an idempotent POST with its original status, body and Idempotent-Replayed', async () => {
    const first = await send('POST', '/v1/notes', json({ text: 'hi' }, { 'idempotency-key': 'create-1' }));
    expect(first.status).toBe(201);
    expect(first.headers.get('idempotent-replayed')).toBeNull();

    const retry = await send('POST', '/v1/notes', json({ text: 'hi' }, { 'idempotency-key': 'create-1' }));
    expect(retry.status).toBe(201);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(retry.headers.get('content-type')).toMatch(/^application\/json/);
    expect(retry.body).toEqual(first.body);

    const reused = await send('POST', '/v1/notes', json({ text: 'other' }, { 'idempotency-key': 'create-1' }));
    expect(reused.status).toBe(422);
    expect(reused.body.code).toBe('idempotency_key_reused');
    expect(calls.create).toBe(1);
  });

  it('replays a stored 4xx as the same problem, and lets a retry after a 5xx run again', async () => {
    const invalid = await send('POST', '/v1/notes', json({ text: 1 }, { 'idempotency-key': 'bad-1' }));
    const replayed = await send('POST', '/v1/notes', json({ text: 1 }, { 'idempotency-key': 'bad-1' }));
    expect(replayed.status).toBe(400);
    expect(replayed.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(replayed.headers.get('idempotent-replayed')).toBe('true');
    expect(replayed.body).toEqual(invalid.body);

    failNext = new DomainError(ErrorCode.SERVICE_UNAVAILABLE, 'sessions service unavailable');
    expect((await send('POST', '/v1/notes', json({ text: 'x' }, { 'idempotency-key': 'flaky-1' }))).status).toBe(503);
    const retried = await send('POST', '/v1/notes', json({ text: 'x' }, { 'idempotency-key': 'flaky-1' }));
    expect(retried.status).toBe(201);
    expect(retried.headers.get('idempotent-replayed')).toBeNull();
    expect(calls.create).toBe(2);
  });

  it('creates one record for concurrent duplicates', async () => {
    const responses = await Promise.all(Array.from({ length: 4 }, () => send('POST', '/v1/notes', json({ text: 'once' }, { 'idempotency-key': 'race-1' }))));
    expect(calls.create).toBe(1);
    for (const response of responses) expect([201, 409]).toContain(response.status);
    const created = responses.filter((r) => r.status === 201);
    for (const response of created) expect(response.body.id).toBe('note-1');
  });

  it('logs one line per request with its id and outcome, never the Authorization header', async () => {
    await send('GET', '/v1/notes/zzz', { headers: { 'x-request-id': 'log-check-1' } });
    const line = await expectEventually(() => {
      const found = logLines.find((l) => l.request_id === 'log-check-1' && l.msg === 'request completed');
      expect(found).toBeDefined();
      return found!;
    });
    expect(line).toMatchObject({ method: 'GET', route: '/v1/notes/:id', status: 404, tenant_id: 'tenant-1', principal_id: 'principal-fresh-log-check-1' });
    expect(line.duration_ms).toEqual(expect.any(Number));
    expect(JSON.stringify(logLines)).not.toContain('test-key');
  });

  it('continues a valid traceparent: the handler runs in it, the answer names it, and the log line carries its id', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const response = await send('POST', '/v1/notes', json({ text: 'traced' }, { traceparent: `00-${traceId}-00f067aa0ba902b7-01`, 'x-request-id': 'trace-1' }));

    expect(response.status).toBe(201);
    expect(response.headers.get('traceparent')).toMatch(new RegExp(`^00-${traceId}-(?!00f067aa0ba902b7)[0-9a-f]{16}-01$`));
    expect(handlerTrace?.traceId).toBe(traceId);
    await expectEventually(() => expect(logLines).toContainEqual(expect.objectContaining({ request_id: 'trace-1', trace_id: traceId, msg: 'request completed' })));

    const fresh = await send('POST', '/v1/notes', json({ text: 'untraced' }, { traceparent: 'not-a-traceparent' }));
    const freshId = /^00-([0-9a-f]{32})-[0-9a-f]{16}-01$/.exec(fresh.headers.get('traceparent') ?? '')?.[1];
    expect(freshId).toBeDefined();
    expect(freshId).not.toBe(traceId);
    expect(handlerTrace?.traceId).toBe(freshId);
  });

  it('limits each principal and answers 429 with Retry-After and RateLimit headers', async () => {
    const limited = { headers: { authorization: LIMITED_KEY } };
    for (let i = 0; i < settings.rateLimitPoints; i += 1) expect((await send('GET', '/v1/notes', limited)).status).toBe(200);
    const response = await send('GET', '/v1/notes', limited);
    expect(response.status).toBe(429);
    expect(response.body.code).toBe('rate_limited');
    expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(response.headers.get('ratelimit-limit')).toBe(String(settings.rateLimitPoints));
    expect(response.headers.get('ratelimit-remaining')).toBe('0');
  });
});
