import type { EventEnvelope, PlanStepView, RunProgressData, RunStatus, RunStatusChangedData, RunView, WaitView, Page } from '@runyard/contracts';
import type { ApiClient } from './api-client.js';
import type { Io } from './command.js';
import { paintStatus, type Style } from './output.js';
import { followSse, type Next } from './sse/sse-follow.js';

// Kept here rather than imported: the CLI takes only types from @runyard/contracts, so it starts fast
// and needs none of the server's packages at run time. `satisfies` keeps them in step with the contract.
export const TERMINAL_STATUSES = new Set(['completed', 'failed', 'cancelled', 'expired'] satisfies RunStatus[]) as ReadonlySet<string>;
export const WAITING_STATUSES = new Set(['waiting_for_approval', 'waiting_for_input'] satisfies RunStatus[]) as ReadonlySet<string>;

export interface FollowRunOptions {
  api: ApiClient;
  runId: string;
  /** Stop as soon as the run waits for an approval or input, instead of following it through. */
  noWait: boolean;
  /** Progress lines go to stderr unless quiet. */
  quiet: boolean;
  io: Io;
  style: Style;
  signal: AbortSignal;
}

export interface FollowRunOutcome {
  /** The run as the API gives it after the stream ended. */
  run: RunView;
  /** Assistant messages the run posted (`run.message_posted`): how many answers to wait for in the chat. */
  messagesPosted: number;
  /** The open wait, when the run stopped to wait (with `noWait`). */
  openWait?: WaitView;
  interrupted: boolean;
}

/**
 * Follows a run's live stream (GET /v1/runs/{id}/stream: its events from its creation, ending after its
 * terminal status) and tells its progress as it goes: status changes, plan steps, waits with the command
 * that answers them, progress notes. Dropped connections resume from the last id (see followSse).
 */
export async function followRun(options: FollowRunOptions): Promise<FollowRunOutcome> {
  const { api, runId, io, style } = options;
  const say = (text: string): void => {
    if (!options.quiet) io.err(`${text}\n`);
  };
  let messagesPosted = 0;
  const result = await followSse({
    url: api.url(`v1/runs/${runId}/stream`),
    headers: api.authHeaders(),
    signal: options.signal,
    onReconnect: ({ reason, delayMs }) => say(style.dim(`  … ${reason}; resuming in ${delayMs} ms`)),
    onEvent: (message): Next => {
      if (message.event === 'ready' || message.event === 'heartbeat') return 'continue';
      if (message.event === 'gap') {
        say(style.yellow(`  warning: the stream skipped events it no longer holds (${message.data})`));
        return 'continue';
      }
      const envelope = JSON.parse(message.data) as EventEnvelope;
      switch (message.event) {
        case 'run.created': {
          const run = envelope.data as RunView;
          say(`  run ${run.id} created (${paintStatus(style, run.status)}, executor ${run.route.executor})`);
          return 'continue';
        }
        case 'run.status_changed': {
          const { from, to, run } = envelope.data as RunStatusChangedData;
          const position = to === 'queued' && run.queue_position !== null ? ` (position ${run.queue_position})` : '';
          say(`  status ${paintStatus(style, from)} → ${paintStatus(style, to)}${position}`);
          if (TERMINAL_STATUSES.has(to)) return 'stop';
          return options.noWait && WAITING_STATUSES.has(to) ? 'stop' : 'continue';
        }
        case 'plan_step.added':
        case 'plan_step.updated': {
          const step = envelope.data as PlanStepView;
          say(`  step ${step.position} ${style.bold(step.title)}: ${paintStatus(style, step.status)}`);
          return 'continue';
        }
        case 'wait.opened': {
          const wait = envelope.data as WaitView;
          say(style.yellow(`  waiting for ${wait.kind === 'approval' ? 'approval' : 'input'}: ${wait.prompt}`));
          say(`    ${answerHint(wait)}`);
          return 'continue';
        }
        case 'wait.closed': {
          const wait = envelope.data as WaitView;
          say(`  ${wait.kind} "${wait.key}" ${wait.status}${wait.answer ? ` (${wait.answer.decision}${wait.answer.reason ? `: ${wait.answer.reason}` : ''})` : ''}`);
          return 'continue';
        }
        case 'run.progress': {
          const progress = envelope.data as RunProgressData;
          if (progress.message !== null) say(`  ${style.dim(progress.message)}`);
          return 'continue';
        }
        case 'run.message_posted':
          messagesPosted++;
          return 'continue';
        default:
          return 'continue';
      }
    },
  });
  const interrupted = result.reason === 'aborted';
  const run = await api.get<RunView>(`v1/runs/${runId}`);
  let openWait: WaitView | undefined;
  if (WAITING_STATUSES.has(run.status)) {
    const waits = await api.get<Page<WaitView>>(`v1/runs/${runId}/waits`, { limit: 200 });
    openWait = waits.data.find((wait) => wait.status === 'open');
  }
  return { run, messagesPosted, openWait, interrupted };
}

/** The command that answers a wait. */
export function answerHint(wait: WaitView): string {
  return wait.kind === 'approval'
    ? `runyard runs approve ${wait.run_id} ${wait.id}   (or: runyard runs deny ${wait.run_id} ${wait.id} --reason ...)`
    : `runyard runs respond ${wait.run_id} ${wait.id} --input '{...}'${wait.schema ? `   schema: ${JSON.stringify(wait.schema)}` : ''}`;
}
