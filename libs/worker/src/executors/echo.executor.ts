import { MESSAGE_TEXT_MAX, type RunView } from '@runyard/contracts';
import type { Executor } from '../executor.js';

/** Evidence text limit of a plan step. */
const EVIDENCE_TEXT_MAX = 10_000;

/**
 * The default route: replies with the run's input. Opens plan step `reply` ("Reply"), posts the text
 * back into the session as the assistant message (key `reply`; a run outside a session gets no
 * message), completes the step with the text as evidence, and returns `{ text }`. Re-run after a
 * crash it finds the step done and only returns.
 */
export const echoExecutor: Executor = async (ctx) => {
  const text = inputText(ctx.run);
  if (ctx.steps.some((step) => step.key === 'reply' && step.status === 'completed')) return { text };
  await ctx.step('reply', { title: 'Reply', status: 'in_progress' });
  if (ctx.run.session_id !== null) await ctx.postMessage('reply', text);
  await ctx.step('reply', { status: 'completed', evidence: [{ kind: 'text', text: text.slice(0, EVIDENCE_TEXT_MAX) }] });
  return { text };
};

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
