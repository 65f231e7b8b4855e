import { type AnyCommand, DomainError, ErrorCode, isErrorCode, type Reply } from '@runyard/contracts';
import type { CommandHandlerFn, HandlerContext } from './bus.js';
import { messageBytes, payloadTooLarge } from './message-size.js';
import type { MessagingLogger } from './messaging-logger.js';
import { runWithTraceContext, traceContext, traceFromHeaders } from './trace-context.js';
import { validateCommandPayload } from './validate-payload.js';

/**
 * The receiving half of request/reply, shared by both adapters so they cannot drift: validate, run
 * the handler, and turn the outcome into the reply's wire form (JSON). Never throws. An unexpected error
 * is logged here and reaches the caller only as a generic INTERNAL_ERROR, so internals never leak over
 * the wire. A reply larger than the transport carries (`maxReplyBytes`: the connection's `max_payload`)
 * would be dropped on the way and leave the caller waiting for its timeout: it answers PAYLOAD_TOO_LARGE
 * instead. The handler runs within the trace its request carried (`traceparent`), or outside any trace.
 */
export async function serveCommand(
  command: AnyCommand,
  handler: CommandHandlerFn<AnyCommand>,
  plain: unknown,
  ctx: HandlerContext,
  logger: MessagingLogger,
  maxReplyBytes: number,
): Promise<string> {
  const reply = await runWithTraceContext(traceFromHeaders(ctx.headers), () => runHandler(command, handler, plain, ctx, logger));
  return serializeReply(reply, command.subject, maxReplyBytes, logger);
}

async function runHandler(
  command: AnyCommand,
  handler: CommandHandlerFn<AnyCommand>,
  plain: unknown,
  ctx: HandlerContext,
  logger: MessagingLogger,
): Promise<Reply<unknown>> {
  try {
    const payload: unknown = await validateCommandPayload(command, plain);
    return { ok: true, data: await handler(payload, ctx) };
  } catch (error) {
    if (error instanceof DomainError) {
      return { ok: false, error: { code: error.code, message: error.message, details: error.details } };
    }
    logger.error(`Handler for ${command.subject} failed${traceSuffix()}: ${describeError(error)}`, error instanceof Error ? error.stack : undefined);
    return { ok: false, error: { code: ErrorCode.INTERNAL_ERROR, message: 'Internal error' } };
  }
}

/** A reply's wire form, never larger than `maxReplyBytes`; never throws. */
export function serializeReply(reply: Reply<unknown>, subject: string, maxReplyBytes: number, logger: MessagingLogger): string {
  let wire: string;
  try {
    wire = JSON.stringify(reply);
  } catch (error) {
    logger.error(`Reply on ${subject} cannot be serialised: ${describeError(error)}`);
    return JSON.stringify({ ok: false, error: { code: ErrorCode.INTERNAL_ERROR, message: 'Internal error' } });
  }
  const bytes = messageBytes(wire);
  if (bytes <= maxReplyBytes) return wire;
  const { message } = payloadTooLarge(`The reply on ${subject}`, bytes, maxReplyBytes);
  logger.warn(`${message}: answering payload_too_large`);
  return JSON.stringify({ ok: false, error: { code: ErrorCode.PAYLOAD_TOO_LARGE, message } });
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

/** ` (trace <id>)` within a trace, for log lines written through a plain-text logger. */
export function traceSuffix(): string {
  const context = traceContext();
  return context ? ` (trace_id ${context.traceId})` : '';
}

export function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
