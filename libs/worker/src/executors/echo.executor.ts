import { DomainError, ErrorCode, MESSAGE_TEXT_MAX, type RunView } from '@runyard/contracts';
import type { Executor, ExecutorContext } from '../executor.js';
import { errorMessage } from '../worker-logger.js';

/** Refusals that mean the run is no longer this worker's to work on (lease gone, run ended, cancel requested). */
const STOPPING: ReadonlySet<ErrorCode> = new Set([ErrorCode.LEASE_LOST, ErrorCode.RUN_TERMINAL, ErrorCode.NOT_FOUND, ErrorCode.CONFLICT]);

/** Evidence text limit of a plan step. */
const EVIDENCE_TEXT_MAX = 10_000;

/**
 * The default route: replies with the run's input. Opens plan step `reply` ("Reply"), logs one `agent`
 * line (how long the reply is), posts the text
 * back into the session as the assistant message (key `reply`; a run outside a session gets no
 * message), writes an `execution` transcript segment saying what it did (key `execution`; before the
 * step completes, so a re-run after a crash in between still writes it, once), completes the step
 * with the text as evidence, and returns `{ text }`. Re-run after a crash it finds the step done and
 * only returns.
 */
export const echoExecutor: Executor = async (ctx) => {
  const text = inputText(ctx.run);
  if (ctx.steps.some((step) => step.key === 'reply' && step.status === 'completed')) return { text };
  await ctx.step('reply', { title: 'Reply', status: 'in_progress' });
  await ctx.log(`echo: replying with ${text.length} characters`, { stream: 'agent' });
  if (ctx.run.session_id !== null) await ctx.postMessage('reply', text);
  await writeSummary(ctx, echoSummary(text, ctx.run.session_id !== null), { executor: 'echo', characters: text.length });
  await ctx.step('reply', { status: 'completed', evidence: [{ kind: 'text', text: text.slice(0, EVIDENCE_TEXT_MAX) }] });
  return { text };
};

/**
 * The summary is evidence, not the reply: when the transcripts service cannot store it the run still
 * completes (with a warning for operators). A lost lease or a cancel stops the run as for any write.
 */
async function writeSummary(ctx: ExecutorContext, content: string, metadata: Record<string, unknown>): Promise<void> {
  try {
    await ctx.summary('execution', content, { metadata });
  } catch (error) {
    if (ctx.signal.aborted || (error instanceof DomainError && STOPPING.has(error.code))) throw error;
    ctx.logger.warn({ code: error instanceof DomainError ? error.code : undefined, error: errorMessage(error) }, 'could not write the execution summary; the run goes on');
  }
}

/** The execution summary of an echo run. */
export function echoSummary(text: string, posted: boolean): string {
  return `Echoed ${text.length} ${text.length === 1 ? 'character' : 'characters'}${posted ? '; posted the reply' : ''}.`;
}

/** The run's text: its input, or the text of its input items; a note when it has only files. */
export function inputText(run: Pick<RunView, 'input' | 'input_items'>): string {
  if (run.input !== null && run.input.length > 0) return run.input;
  const items = run.input_items ?? [];
  const text = items
    .map((item) => (item.type === 'text' ? (item.text ?? '') : ''))
    .filter((part) => part.length > 0)
    .join('\n');
  if (text.length > 0) return text.slice(0, MESSAGE_TEXT_MAX);
  return items.length === 0 ? '(no input)' : `(received ${items.length} ${items.length === 1 ? 'item' : 'items'} without text)`;
}
