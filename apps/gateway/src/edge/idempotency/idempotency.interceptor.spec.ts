import { describe, expect, it, jest } from '@jest/globals';
import { HttpCode, type CallHandler, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { DomainError, ErrorCode } from '@runyard/contracts';
import type { FastifyRequest } from 'fastify';
import { defer, lastValueFrom } from 'rxjs';
import type { GatewaySettings } from '../../config.js';
import { IdempotencyInterceptor } from './idempotency.interceptor.js';
import type { IdempotencyStore } from './idempotency.store.js';
import { IdempotentReplay } from './idempotent-replay.js';
import { MemoryIdempotencyStore } from './memory-idempotency.store.js';

const settings: GatewaySettings = { bodyLimitBytes: 1 << 20, rateLimitPoints: 100, rateLimitDurationSeconds: 1, requestTimeoutMs: 1000 };
const caller = { kind: 'tenant', tenantId: 't-1', principalId: 'p-1', role: 'admin', apiKeyId: 'k-1', apiKeyPrefix: 'ryk_x' } as const;

class Handlers {
  create(): void {}
  @HttpCode(200)
  archive(): void {}
}

interface RequestShape {
  method?: string;
  key?: string;
  body?: unknown;
  params?: Record<string, string>;
  route?: string;
  principalId?: string;
}

function contextFor(shape: RequestShape, handler: () => void = Handlers.prototype.create): ExecutionContext {
  const request = {
    id: `req-${Math.random()}`,
    method: shape.method ?? 'POST',
    url: shape.route ?? '/v1/sessions',
    headers: { authorization: 'Bearer ryk_test_credential', ...(shape.key === undefined ? {} : { 'idempotency-key': shape.key }) },
    body: shape.body,
    params: shape.params ?? {},
    routeOptions: { url: shape.route ?? '/v1/sessions' },
    caller: { ...caller, principalId: shape.principalId ?? caller.principalId },
    log: { warn: jest.fn(), error: jest.fn(), info: jest.fn() },
  } as unknown as FastifyRequest;
  return {
    getType: () => 'http',
    getHandler: () => handler,
    getClass: () => Handlers,
    switchToHttp: () => ({ getRequest: () => request, getResponse: () => ({}), getNext: () => undefined }),
  } as unknown as ExecutionContext;
}

/** A handler that counts its runs and answers `result()` (or throws it). */
function handlerReturning(result: () => Promise<unknown>): CallHandler & { runs: number } {
  const next = {
    runs: 0,
    handle: () =>
      defer(async () => {
        next.runs += 1;
        return result();
      }),
  };
  return next;
}

async function run(interceptor: IdempotencyInterceptor, context: ExecutionContext, next: CallHandler): Promise<unknown> {
  return lastValueFrom(await interceptor.intercept(context, next));
}

async function replayOf(promise: Promise<unknown>): Promise<IdempotentReplay> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  if (!(error instanceof IdempotentReplay)) throw new Error(`expected a replay, got ${String(error)}`);
  return error;
}

function setup(store: IdempotencyStore = new MemoryIdempotencyStore()) {
  return { store, interceptor: new IdempotencyInterceptor(store, settings, new Reflector()) };
}

describe('IdempotencyInterceptor', () => {
  it('replays the first answer, with its status, for the same key and request', async () => {
    const { interceptor } = setup();
    const next = handlerReturning(() => Promise.resolve({ id: 's-1', title: 'a' }));
    expect(await run(interceptor, contextFor({ key: 'k', body: { title: 'a' } }), next)).toEqual({ id: 's-1', title: 'a' });

    const replay = await replayOf(run(interceptor, contextFor({ key: 'k', body: { title: 'a' } }), next));
    expect(replay.response).toEqual({ status: 201, headers: { 'content-type': 'application/json; charset=utf-8' }, body: { id: 's-1', title: 'a' } });
    expect(next.runs).toBe(1);
  });

  it('treats bodies with the same fields in another order as the same request', async () => {
    const { interceptor } = setup();
    const next = handlerReturning(() => Promise.resolve({ id: 's-1' }));
    await run(interceptor, contextFor({ key: 'k', body: { a: 1, b: { c: 2, d: 3 } } }), next);
    await replayOf(run(interceptor, contextFor({ key: 'k', body: { b: { d: 3, c: 2 }, a: 1 } }), next));
    expect(next.runs).toBe(1);
  });

  it('records the route’s own success status (@HttpCode)', async () => {
    const { interceptor } = setup();
    const next = handlerReturning(() => Promise.resolve({ id: 's-1' }));
    await run(interceptor, contextFor({ key: 'k', route: '/v1/sessions/:id/archive', params: { id: 's-1' } }, Handlers.prototype.archive), next);
    const replay = await replayOf(
      run(interceptor, contextFor({ key: 'k', route: '/v1/sessions/:id/archive', params: { id: 's-1' } }, Handlers.prototype.archive), next),
    );
    expect(replay.response.status).toBe(200);
  });

  it('refuses the same key with a different body or route params (422)', async () => {
    const { interceptor } = setup();
    const next = handlerReturning(() => Promise.resolve({ id: 'm-1' }));
    const route = '/v1/sessions/:id/messages';
    await run(interceptor, contextFor({ key: 'k', route, params: { id: 's-1' }, body: { content: 'hi' } }), next);
    for (const shape of [
      { key: 'k', route, params: { id: 's-1' }, body: { content: 'bye' } },
      { key: 'k', route, params: { id: 's-2' }, body: { content: 'hi' } },
    ]) {
      await expect(run(interceptor, contextFor(shape), next)).rejects.toMatchObject({ code: ErrorCode.IDEMPOTENCY_KEY_REUSED });
    }
    expect(next.runs).toBe(1);
  });

  it('refuses a duplicate while the first is in flight (409), then replays once it is done', async () => {
    const { interceptor } = setup();
    let finish!: (value: unknown) => void;
    const next = handlerReturning(() => new Promise((resolve) => (finish = resolve)));
    const first = run(interceptor, contextFor({ key: 'k', body: { title: 'a' } }), next);
    await expect(run(interceptor, contextFor({ key: 'k', body: { title: 'a' } }), next)).rejects.toMatchObject({
      code: ErrorCode.IDEMPOTENCY_REQUEST_IN_FLIGHT,
    });
    finish({ id: 's-1' });
    expect(await first).toEqual({ id: 's-1' });
    await replayOf(run(interceptor, contextFor({ key: 'k', body: { title: 'a' } }), next));
    expect(next.runs).toBe(1);
  });

  it('runs the handler once for many concurrent duplicates', async () => {
    const { interceptor } = setup();
    const next = handlerReturning(() => Promise.resolve({ id: 's-1' }));
    const outcomes = await Promise.allSettled(Array.from({ length: 25 }, () => run(interceptor, contextFor({ key: 'k', body: { title: 'a' } }), next)));
    expect(next.runs).toBe(1);
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    for (const outcome of outcomes) {
      if (outcome.status === 'rejected') expect(outcome.reason).toMatchObject({ code: ErrorCode.IDEMPOTENCY_REQUEST_IN_FLIGHT });
    }
  });

  it('releases the key after a 5xx or an unexpected error, so a retry runs again', async () => {
    const { interceptor } = setup();
    const failures = [new DomainError(ErrorCode.SERVICE_UNAVAILABLE, 'bus down'), new Error('boom')];
    const next = handlerReturning(() => {
      const failure = failures.shift();
      return failure ? Promise.reject(failure) : Promise.resolve({ id: 's-1' });
    });
    await expect(run(interceptor, contextFor({ key: 'k', body: {} }), next)).rejects.toMatchObject({ code: ErrorCode.SERVICE_UNAVAILABLE });
    await expect(run(interceptor, contextFor({ key: 'k', body: {} }), next)).rejects.toThrow('boom');
    expect(await run(interceptor, contextFor({ key: 'k', body: {} }), next)).toEqual({ id: 's-1' });
    expect(next.runs).toBe(3);
  });

  it('keeps the key in flight after a timeout, whose outcome is unknown', async () => {
    const { interceptor } = setup();
    const next = handlerReturning(() => Promise.reject(new DomainError(ErrorCode.UPSTREAM_TIMEOUT, 'no reply in time')));
    await expect(run(interceptor, contextFor({ key: 'k', body: {} }), next)).rejects.toMatchObject({ code: ErrorCode.UPSTREAM_TIMEOUT });
    await expect(run(interceptor, contextFor({ key: 'k', body: {} }), next)).rejects.toMatchObject({ code: ErrorCode.IDEMPOTENCY_REQUEST_IN_FLIGHT });
    expect(next.runs).toBe(1);
  });

  it('keeps a 4xx answer and replays it as the same problem', async () => {
    const { interceptor } = setup();
    const next = handlerReturning(() => Promise.reject(new DomainError(ErrorCode.SESSION_ARCHIVED, 'session is archived')));
    await expect(run(interceptor, contextFor({ key: 'k', body: { content: 'x' } }), next)).rejects.toMatchObject({ code: ErrorCode.SESSION_ARCHIVED });
    const replay = await replayOf(run(interceptor, contextFor({ key: 'k', body: { content: 'x' } }), next));
    expect(replay.response.status).toBe(409);
    expect(replay.response.headers['content-type']).toBe('application/problem+json');
    expect(replay.response.body).toMatchObject({ code: ErrorCode.SESSION_ARCHIVED, detail: 'session is archived' });
    expect(next.runs).toBe(1);
  });

  it('scopes keys to the principal: another caller’s identical key is a different request', async () => {
    const { interceptor } = setup();
    const next = handlerReturning(() => Promise.resolve({ id: `s-${next.runs}` }));
    await run(interceptor, contextFor({ key: 'k', body: {}, principalId: 'p-1' }), next);
    expect(await run(interceptor, contextFor({ key: 'k', body: {}, principalId: 'p-2' }), next)).toEqual({ id: 's-2' });
    expect(next.runs).toBe(2);
  });

  it('leaves requests without the header, and non-POST requests, alone', async () => {
    const { interceptor } = setup();
    const next = handlerReturning(() => Promise.resolve({ id: 's-1' }));
    await run(interceptor, contextFor({ body: {} }), next);
    await run(interceptor, contextFor({ body: {} }), next);
    await run(interceptor, contextFor({ method: 'PATCH', key: 'k', body: {} }), next);
    await run(interceptor, contextFor({ method: 'PATCH', key: 'k', body: {} }), next);
    expect(next.runs).toBe(4);
  });

  it('refuses an empty, over-long or non-printable key (400)', async () => {
    const { interceptor } = setup();
    const next = handlerReturning(() => Promise.resolve({}));
    for (const key of ['', 'k'.repeat(256), 'tab\tkey', 'é']) {
      await expect(run(interceptor, contextFor({ key, body: {} }), next)).rejects.toMatchObject({ code: ErrorCode.VALIDATION_FAILED });
    }
    expect(await run(interceptor, contextFor({ key: 'k'.repeat(255), body: {} }), next)).toEqual({});
    expect(next.runs).toBe(1);
  });

  it('answers 503 rather than risk a duplicate when the store is unreachable', async () => {
    const broken: IdempotencyStore = {
      begin: () => Promise.reject(new Error('ECONNREFUSED')),
      complete: () => Promise.resolve(),
      release: () => Promise.resolve(),
    };
    const { interceptor } = setup(broken);
    const next = handlerReturning(() => Promise.resolve({}));
    await expect(run(interceptor, contextFor({ key: 'k', body: {} }), next)).rejects.toMatchObject({ code: ErrorCode.SERVICE_UNAVAILABLE });
    expect(next.runs).toBe(0);
  });
});
