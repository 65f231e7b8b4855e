import { Inject, Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { HTTP_CODE_METADATA } from '@nestjs/common/constants.js';
import { Reflector } from '@nestjs/core';
import { DomainError, ErrorCode } from '@runyard/contracts';
import type { FastifyRequest } from 'fastify';
import { catchError, from, mergeMap, type Observable } from 'rxjs';
import type { GatewaySettings } from '../../config.js';
import { pathOf, toProblem } from '../problem.js';
import { GATEWAY_SETTINGS } from '../tokens.js';
import { httpRequestFingerprint, idempotencyScopeKey } from './fingerprint.js';
import { IDEMPOTENCY_RESPONSE_TTL_MS, IDEMPOTENCY_STORE, type IdempotencyStore, type ReplayableResponse } from './idempotency.store.js';
import { IdempotentReplay } from './idempotent-replay.js';
import { openResponse, sealResponse } from './response-seal.js';

export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';
/** Printable ASCII, 1 to 255 characters. */
const VALID_KEY = /^[\x20-\x7e]{1,255}$/;
/** An in-flight marker outlives the longest request (bus timeout) by this much, then frees itself. */
const IN_FLIGHT_MARGIN_MS = 30_000;

function bearerCredential(request: FastifyRequest): string | undefined {
  const match = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '');
  return match?.[1];
}

function parseKey(header: string | string[]): string {
  const value = Array.isArray(header) ? undefined : header.trim();
  if (value === undefined || !VALID_KEY.test(value)) {
    throw new DomainError(ErrorCode.VALIDATION_FAILED, 'Idempotency-Key must be 1 to 255 printable ASCII characters', {
      errors: [{ field: 'Idempotency-Key', message: 'must be 1 to 255 printable ASCII characters' }],
    });
  }
  return value;
}

/**
 * `Idempotency-Key` on every POST: a retry gets the original answer (status, body,
 * `Idempotent-Replayed: true`); the same key with a different request is refused (422); a retry while
 * the original still runs is refused (409) rather than run twice. 2xx and 4xx answers are kept (the
 * same request would get the same answer); a 5xx or an unexpected error frees the key, so the retry
 * runs again — except a timeout, whose outcome is unknown: the key stays in flight until it
 * expires. Keys are scoped to tenant, principal, API key, method and route; answers are kept sealed
 * with the caller's credential (response-seal.ts).
 */
@Injectable()
export class IdempotencyInterceptor implements NestInterceptor {
  constructor(
    @Inject(IDEMPOTENCY_STORE) private readonly store: IdempotencyStore,
    @Inject(GATEWAY_SETTINGS) private readonly settings: GatewaySettings,
    private readonly reflector: Reflector,
  ) {}

  async intercept(context: ExecutionContext, next: CallHandler): Promise<Observable<unknown>> {
    if (context.getType() !== 'http') return next.handle();
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const header = request.headers[IDEMPOTENCY_KEY_HEADER];
    if (request.method !== 'POST' || header === undefined) return next.handle();

    const key = parseKey(header);
    // Only authenticated requests reach interceptors; the credential seals the stored answer.
    const credential = bearerCredential(request);
    const caller = request.caller;
    if (!caller || !credential) return next.handle();
    const scopeKey = idempotencyScopeKey({
      tenantId: caller.tenantId ?? 'system',
      principalId: caller.principalId,
      apiKeyId: caller.apiKeyId,
      method: request.method,
      route: request.routeOptions.url ?? pathOf(request.url),
      key,
    });
    const fingerprint = httpRequestFingerprint(request.params, request.body);

    let begun: Awaited<ReturnType<IdempotencyStore['begin']>>;
    try {
      begun = await this.store.begin(scopeKey, fingerprint, this.settings.requestTimeoutMs + IN_FLIGHT_MARGIN_MS);
    } catch (error) {
      // Fail closed: without the store a retry could create a second record.
      request.log.warn({ err: { type: (error as Error).name, message: (error as Error).message } }, 'idempotency store unavailable');
      throw new DomainError(ErrorCode.SERVICE_UNAVAILABLE, 'Idempotency keys cannot be checked right now; retry shortly');
    }

    if (begun.outcome !== 'acquired') {
      if (begun.fingerprint !== fingerprint) {
        throw new DomainError(ErrorCode.IDEMPOTENCY_KEY_REUSED, 'This Idempotency-Key was used with a different request');
      }
      if (begun.outcome === 'in_flight') {
        throw new DomainError(ErrorCode.IDEMPOTENCY_REQUEST_IN_FLIGHT, 'A request with this Idempotency-Key is still being processed; retry later');
      }
      throw new IdempotentReplay(this.open(begun.sealed, credential, scopeKey));
    }

    const { token } = begun;
    const successStatus = this.reflector.get<number | undefined>(HTTP_CODE_METADATA, context.getHandler()) ?? 201;
    return next.handle().pipe(
      mergeMap((body: unknown) =>
        from(
          this.keep(request, credential, scopeKey, token, {
            status: successStatus,
            headers: { 'content-type': 'application/json; charset=utf-8' },
            body: body === undefined ? null : (JSON.parse(JSON.stringify(body)) as unknown),
          }).then(() => body),
        ),
      ),
      catchError((error: unknown) => from(this.settleFailure(request, credential, scopeKey, token, error))),
    );
  }

  private async settleFailure(request: FastifyRequest, credential: string, scopeKey: string, token: string, error: unknown): Promise<never> {
    const problem = toProblem(error, request);
    if (problem.body.code === ErrorCode.UPSTREAM_TIMEOUT) {
      // The outcome is unknown: the service may still commit. The in-flight marker stays until it
      // expires, so a retry meanwhile is told the request is still in flight instead of running twice.
      throw error;
    }
    if (problem.status >= 500) {
      await this.store.release(scopeKey, token).catch((releaseError: unknown) => {
        // The marker expires on its own; until then a retry is told the request is in flight.
        request.log.warn({ err: { message: (releaseError as Error).message } }, 'could not release idempotency key');
      });
    } else {
      await this.keep(request, credential, scopeKey, token, { status: problem.status, headers: problem.headers, body: problem.body });
    }
    throw error;
  }

  private open(sealed: string, credential: string, scopeKey: string): ReplayableResponse {
    try {
      return openResponse(sealed, credential, scopeKey);
    } catch {
      // The scope includes the API key, so only an altered store entry gets here.
      throw new DomainError(ErrorCode.IDEMPOTENCY_KEY_REUSED, 'The answer kept for this Idempotency-Key cannot be replayed; use a new key');
    }
  }

  private async keep(request: FastifyRequest, credential: string, scopeKey: string, token: string, response: ReplayableResponse): Promise<void> {
    try {
      await this.store.complete(scopeKey, token, sealResponse(response, credential, scopeKey), IDEMPOTENCY_RESPONSE_TTL_MS);
    } catch (error) {
      // The answer still goes out; a retry meets the in-flight marker until it expires.
      request.log.warn({ err: { message: (error as Error).message } }, 'could not store idempotent response');
    }
  }
}
