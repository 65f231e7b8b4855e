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

/** Retry delay of a command's `deliveryCount`-th failure: doubling from 500 ms up to 30 s. */
export function workRetryDelayMs(deliveryCount: number): number {
  return Math.min(30_000, 500 * 2 ** Math.max(0, Math.min(deliveryCount, 16) - 1));
}

/**
 * The receiving half of submit/work, shared by both adapters: validate, run the handler within the
 * command's trace, and decide. A DomainError other than a transient one is the command's final answer
 * (as for request/reply); an unexpected error or a transient code is retried, since the handler is
 * idempotent and the submitter keeps waiting. Never throws.
 */
export async function handleWork(
  command: AnyCommand,
  handler: CommandHandlerFn<AnyCommand>,
  plain: unknown,
  ctx: HandlerContext,
  logger: MessagingLogger,
  maxReplyBytes: number,
): Promise<WorkOutcome> {
  return runWithTraceContext(traceFromHeaders(ctx.headers), async (): Promise<WorkOutcome> => {
    let reply: Reply<unknown>;
    try {
      const payload: unknown = await validateCommandPayload(command, plain);
      reply = { ok: true, data: await handler(payload, ctx) };
    } catch (error) {
      if (!(error instanceof DomainError)) {
        logger.warn(`Work on ${command.subject} failed${traceSuffix()}; it will be retried: ${describeError(error)}`);
        return { kind: 'retry', reason: describeError(error) };
      }
      if (TRANSIENT.has(error.code)) return { kind: 'retry', reason: `${error.code}: ${error.message}` };
      reply = { ok: false, error: { code: error.code, message: error.message, details: error.details } };
    }
    return { kind: 'reply', wire: serializeReply(reply, command.subject, maxReplyBytes, logger) };
  });
}
