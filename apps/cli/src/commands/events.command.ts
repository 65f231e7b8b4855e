import type { EventEnvelope } from '@runyard/contracts';
import type { CommandSpec } from '../command.js';
import { paintStatus, type Style } from '../output.js';
import { followSse } from '../sse/sse-follow.js';
import type { SseMessage } from '../sse/sse-parser.js';
import { idArgument } from '../values.js';

/** What one event says, in a few words: the status change, the step, the wait, the message. */
export function summarize(event: string, envelope: EventEnvelope, style: Style): string {
  const data = (envelope.data ?? {}) as Record<string, unknown>;
  const text = (value: unknown): string => (typeof value === 'string' ? value : '');
  switch (event) {
    case 'run.status_changed':
      return `${paintStatus(style, text(data.from))} → ${paintStatus(style, text(data.to))}`;
    case 'run.created':
      return `${paintStatus(style, text(data.status))} executor=${text((data.route as Record<string, unknown> | undefined)?.executor)}`;
    case 'plan_step.added':
    case 'plan_step.updated':
      return `${text(data.title)}: ${paintStatus(style, text(data.status))}`;
    case 'wait.opened':
    case 'wait.closed':
      return `${text(data.kind)} ${text(data.key)} ${paintStatus(style, text(data.status))}: ${text(data.prompt)}`;
    case 'run.progress':
      return text(data.message);
    case 'message.appended':
      return `#${String(data.seq)} ${text(data.role)}: ${text(data.content).replace(/\s+/g, ' ').slice(0, 80)}`;
    case 'session.created':
    case 'session.updated':
    case 'session.archived':
      return text(data.title);
    default:
      return '';
  }
}

function line(message: SseMessage, style: Style): string {
  const envelope = JSON.parse(message.data) as EventEnvelope;
  const target = [envelope.session_id && `session=${envelope.session_id}`, envelope.run_id && `run=${envelope.run_id}`].filter(Boolean).join(' ');
  return [style.dim(envelope.occurred_at), style.cyan(message.event), target, summarize(message.event, envelope, style)].filter((part) => part !== '').join('  ');
}

const tail: CommandSpec = {
  path: ['events', 'tail'],
  summary: 'Follow the live event stream, one line per event (--json: one JSON object per line)',
  details:
    'Starts with new events (or after --after <id>) and follows until Ctrl-C. A dropped connection is\n' +
    'resumed from the last id received, losing and repeating nothing; when the server no longer holds\n' +
    'that point, a warning says events were skipped. With --json each line is {"id", "event", "data"},\n' +
    '`data` being the event envelope.',
  args: [],
  options: {
    session: { type: 'string', short: 's', value: 'id', description: 'Only events of this session (and its runs)' },
    run: { type: 'string', short: 'r', value: 'id', description: 'Only events of this run' },
    after: { type: 'string', value: 'event-id', description: 'Resume after this event id' },
  },
  examples: ['runyard events tail -s 019a...', 'runyard events tail --json | jq .event'],
  async run(context) {
    const api = context.api();
    const session = context.options.string('session');
    const run = context.options.string('run');
    const { io, style, errStyle } = context;
    const result = await followSse({
      url: api.url('v1/events/stream', {
        session_id: session === undefined ? undefined : idArgument(session, 'session'),
        run_id: run === undefined ? undefined : idArgument(run, 'run'),
      }),
      headers: api.authHeaders(),
      lastEventId: context.options.string('after'),
      signal: context.signal,
      onReconnect: ({ reason, lastEventId, delayMs }) =>
        io.err(`${errStyle.dim(`runyard: ${reason}; resuming after ${lastEventId ?? 'the start'} in ${delayMs} ms`)}\n`),
      onEvent: (message) => {
        if (message.event === 'ready' || message.event === 'heartbeat') return 'continue';
        if (message.event === 'gap') io.err(`${errStyle.yellow('runyard: warning: events were skipped (no longer retained):')} ${message.data}\n`);
        else if (context.json) io.out(`${JSON.stringify({ id: message.id ?? null, event: message.event, data: JSON.parse(message.data) as unknown })}\n`);
        else io.out(`${line(message, style)}\n`);
        return 'continue';
      },
    });
    // Only a 204 or Ctrl-C ends a tail; both are normal.
    return result.reason === 'aborted' ? 130 : undefined;
  },
};

export const eventsCommands: CommandSpec[] = [tail];
