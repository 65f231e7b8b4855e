/**
 * What the audit hook needs to know about a request beyond what Fastify has: set by the
 * AuditInterceptor from the handler's `@Audited` metadata, and by the AuthGuard when it has already
 * recorded the request itself.
 */
export interface RequestAuditContext {
  action?: string;
  targetType?: string;
  targetId?: string;
  /** Why the request failed, when a component knows a better reason than the status code. */
  reason?: string;
  /** Already recorded (e.g. `auth.failed` by the AuthGuard): the hook must not record it again. */
  recorded?: boolean;
}

declare module 'fastify' {
  interface FastifyRequest {
    audit?: RequestAuditContext;
  }
}
