import { type AnyCommand, type ClassType, DomainError, ErrorCode, isErrorCode, type Reply } from '@runyard/contracts';
import type { CommandHandlerFn, HandlerContext } from './bus.js';
import type { MessagingLogger } from './messaging-logger.js';
import { validatePayload } from './validate-payload.js';

/**
 * The receiving half of request/reply, shared by both adapters so they cannot drift: validate, run
 * the handler, and turn the outcome into a `Reply`. Never throws. An unexpected error is logged here
 * and reaches the caller only as a generic INTERNAL_ERROR, so internals never leak over the wire.
 */
export async function serveCommand(
  command: AnyCommand,
  handler: CommandHandlerFn<AnyCommand>,
  plain: unknown,
  ctx: HandlerContext,
  logger: MessagingLogger,
): Promise<Reply<unknown>> {
  try {
    const payload = await validatePayload(command.payload as ClassType<object>, plain);
    return { ok: true, data: await handler(payload, ctx) };
  } catch (error) {
    if (error instanceof DomainError) {
      return { ok: false, error: { code: error.code, message: error.message, details: error.details } };
    }
    logger.error(`Handler for ${command.subject} failed: ${describeError(error)}`, error instanceof Error ? error.stack : undefined);
    return { ok: false, error: { code: ErrorCode.INTERNAL_ERROR, message: 'Internal error' } };
  }
}

/** The calling half: a reply's result, or its error rethrown as the same DomainError. */
export function unwrapReply<T>(reply: unknown, subject: string): T {
  if (isReply(reply)) {
    if (reply.ok) return reply.data as T;
    const code = isErrorCode(reply.error.code) ? reply.error.code : ErrorCode.INTERNAL_ERROR;
    throw new DomainError(code, reply.error.message, reply.error.details);
  }
  throw new DomainError(ErrorCode.INTERNAL_ERROR, `Malformed reply on ${subject}`);
}

function isReply(value: unknown): value is Reply<unknown> {
  if (value === null || typeof value !== 'object') return false;
  const candidate = value as { ok?: unknown; error?: unknown };
  if (candidate.ok === true) return true;
  if (candidate.ok !== false || candidate.error === null || typeof candidate.error !== 'object') return false;
  const error = candidate.error as { code?: unknown; message?: unknown };
  return typeof error.code === 'string' && typeof error.message === 'string';
}

export function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
