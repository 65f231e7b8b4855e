import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { tap, type Observable } from 'rxjs';
import './audit-context.js';
import { AUDITED, type AuditedMetadata } from './audited.decorator.js';

function idOf(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const id = (value as { id?: unknown }).id;
  return typeof id === 'string' ? id : undefined;
}

/**
 * Hands a handler's `@Audited` action and target type to the audit hook (which runs in Fastify's
 * onSend, where Nest's handler metadata is out of reach), and the affected resource id: the route
 * param `id` up front (so a refused attempt still names its target), replaced on success by the
 * response's `id` — or, for responses that wrap the resource, `<targetType>.id` (e.g. the tenant of
 * `POST /v1/tenants`).
 */
@Injectable()
export class AuditInterceptor implements NestInterceptor {
  constructor(private readonly reflector: Reflector) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    const audited = this.reflector.get<AuditedMetadata | undefined>(AUDITED, context.getHandler());
    if (!audited) return next.handle();
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const paramId = (request.params as Record<string, string | undefined> | undefined)?.id;
    const audit = (request.audit ??= {});
    audit.action = audited.action;
    audit.targetType = audited.targetType;
    if (paramId !== undefined) audit.targetId = paramId;
    return next.handle().pipe(
      tap((body: unknown) => {
        const wrapped = body !== null && typeof body === 'object' ? (body as Record<string, unknown>)[audited.targetType] : undefined;
        const id = idOf(body) ?? idOf(wrapped) ?? paramId;
        if (id !== undefined) audit.targetId = id;
      }),
    );
  }
}
