import type { RunTraceView, TraceSpanNode } from '@runyard/contracts';
import type { CommandSpec } from '../command.js';
import type { Style } from '../output.js';
import { idArgument } from '../values.js';

/** `12 ms`, `1.25 s`, `3m 04s`; `open` for a span that has not ended. */
export function formatDuration(ms: number | null): string {
  if (ms === null) return 'open';
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(2)} s`;
  const seconds = Math.round(ms / 1000);
  return `${Math.floor(seconds / 60)}m ${String(seconds % 60).padStart(2, '0')}s`;
}

function paintSpanStatus(style: Style, status: TraceSpanNode['status']): string {
  switch (status) {
    case 'ok':
      return style.green(status);
    case 'error':
      return style.red(status);
    case 'unset':
      return style.dim(status);
  }
}

/** One line per span, indented by depth: name, kind, status (and its message), duration. */
export function renderTrace(trace: RunTraceView, style: Style): string {
  const lines = [`${style.bold('trace')} ${trace.trace_id ?? '(none yet)'}  ${trace.span_count} span${trace.span_count === 1 ? '' : 's'}`];
  const walk = (spans: TraceSpanNode[], depth: number): void => {
    for (const span of spans) {
      const message = span.status_message === null ? '' : `: ${span.status_message.replace(/\s+/g, ' ').slice(0, 120)}`;
      lines.push(`${'  '.repeat(depth)}${span.name}  ${style.dim(span.kind)}  ${paintSpanStatus(style, span.status)}${message}  ${style.cyan(formatDuration(span.duration_ms))}`);
      walk(span.children, depth + 1);
    }
  };
  walk(trace.spans, 1);
  if (trace.truncated) lines.push(style.yellow('(truncated: the trace is larger than one answer; the spans that came first are shown)'));
  if (trace.limit_reached) lines.push(style.yellow('(the run reached its span limit: later spans were not recorded)'));
  return `${lines.join('\n')}\n`;
}

export const traceCommand: CommandSpec = {
  path: ['runs', 'trace'],
  summary: "Print a run's trace: its spans as a tree, with durations",
  details:
    'One line per span, indented under its parent, in start order: name, kind (tool_call, model_call,\n' +
    'approval, state_change, internal), status (ok, error with its message, unset) and duration ("open"\n' +
    'while a span has not ended). Each pass of the run (a resume after an approval) is a root `run` span.\n' +
    '--json prints the tree as the API returns it.',
  args: [{ name: 'id', description: 'Run id' }],
  options: {},
  examples: ['runyard runs trace 019a...', 'runyard runs trace 019a... --json'],
  async run(context) {
    const trace = await context.api().get<RunTraceView>(`v1/runs/${idArgument(context.args[0], 'id')}/trace`);
    context.io.out(context.json ? `${JSON.stringify(trace)}\n` : renderTrace(trace, context.style));
    return undefined;
  },
};
