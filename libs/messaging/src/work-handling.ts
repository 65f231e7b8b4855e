import { type AnyCommand, DomainError, ErrorCode, type Reply } from '@runyard/contracts';
import type { CommandHandlerFn, HandlerContext } from './bus.js';
import { describeError, serializeReply, traceSuffix } from './command-reply.js';
import type { MessagingLogger } from './messaging-logger.js';
import { runWithTraceContext, traceFromHeaders } from './trace-context.js';
import { validateCommandPayload } from './validate-payload.js';

/** Headers of a queued command: where its reply goes, and what matches the reply to its submitters. */
export const WORK_REPLY_TO_HEADER = 'Runyard-Reply-To';
export const WORK_ID_HEADER = 'Runyard-Work-Id';

/** What to do with a queued command once its handler ran: send the reply (then settle it), or retry it later. */
export type WorkOutcome = { kind: 'reply'; wire: string } | { kind: 'retry'; reason: string };

/** Failures that say "not now" rather than "no": the command is delivered again later, unanswered meanwhile. */
const TRANSIENT: ReadonlySet<ErrorCode> = new Set([ErrorCode.SERVICE_UNAVAILABLE, ErrorCode.UPSTREAM_TIMEOUT]);

/**
 * A command still failing transiently after this many deliveries (about three minutes of backoff) is
 * answered INTERNAL_ERROR and settled, so a handler bug cannot hold a queue slot for the whole of
 * max_age; its submitter decides whether to try again.
 */
export const MAX_WORK_DELIVERIES = 10;

/** Retry delay of a command's `deliveryCount`-th failure: doubling from 500 ms up to 30 s. */
export function workRetryDelayMs(deliveryCount: number): number {
  return Math.min(30_000, 500 * 2 ** Math.max(0, Math.min(deliveryCount, 16) - 1));
}

/**
 * The receiving half of submit/work, shared by both adapters: validate, run the handler within the
 * command's trace, and decide. A DomainError other than a transient one is the command's final answer
 * (as for request/reply); an unexpected error or a transient code is retried, since the handler is
 * idempotent and the submitter keeps waiting — up to MAX_WORK_DELIVERIES. Never throws.
 */
export async function handleWork(
  command: AnyCommand,
  handler: CommandHandlerFn<AnyCommand>,
  plain: unknown,
  ctx: HandlerContext,
  logger: MessagingLogger,
  maxReplyBytes: number,
  deliveryCount: number,
): Promise<WorkOutcome> {
  return runWithTraceContext(traceFromHeaders(ctx.headers), async (): Promise<WorkOutcome> => {
    let reply: Reply<unknown>;
    try {
      const payload: unknown = await validateCommandPayload(command, plain);
      reply = { ok: true, data: await handler(payload, ctx) };
    } catch (error) {
      const transient = !(error instanceof DomainError) || TRANSIENT.has(error.code);
      if (transient && deliveryCount >= MAX_WORK_DELIVERIES) {
        logger.error(`Work on ${command.subject} failed ${deliveryCount} times${traceSuffix()}; answering internal_error: ${describeError(error)}`);
        reply = { ok: false, error: { code: ErrorCode.INTERNAL_ERROR, message: `Not handled after ${deliveryCount} attempts` } };
      } else if (transient) {
        logger.warn(`Work on ${command.subject} failed${traceSuffix()}; it will be retried: ${describeError(error)}`);
        return { kind: 'retry', reason: describeError(error) };
      } else {
        reply = { ok: false, error: { code: error.code, message: error.message, details: error.details } };
      }
    }
    return { kind: 'reply', wire: serializeReply(reply, command.subject, maxReplyBytes, logger) };
  });
}
