import { randomUUID } from 'node:crypto';
import type { ChatMessageView, Page, SessionView, TurnView } from '@runyard/contracts';
import { ApiError, type ApiClient } from '../api-client.js';
import type { CommandContext, CommandSpec } from '../command.js';
import { CliError, ExitCode, UsageError } from '../exit-codes.js';
import { answerHint, followRun } from '../follow-run.js';
import { paintStatus, renderFields, shortTime, type Style } from '../output.js';
import { idArgument, intOption, oneOf } from '../values.js';
import { LIST_OPTIONS, printPage } from './pages.js';

const ROUTE_OPTIONS = {
  executor: { type: 'string', value: 'name', description: 'Executor (the agent) of its runs, e.g. echo or script' },
  model: { type: 'string', value: 'model', description: 'Model of its runs' },
  provider: { type: 'string', value: 'provider', description: 'Model provider of its runs' },
} as const;

function route(context: CommandContext): Record<string, string> | undefined {
  const entries = (['executor', 'model', 'provider'] as const).flatMap((name) => {
    const value = context.options.string(name);
    return value === undefined ? [] : [[name, value] as const];
  });
  return entries.length === 0 ? undefined : Object.fromEntries(entries);
}

function sessionFields(session: SessionView, style: Style): string {
  const routePolicy = session.route_policy ? Object.entries(session.route_policy).map(([name, value]) => `${name}=${String(value)}`).join(' ') : null;
  return renderFields(
    [
      ['id', session.id],
      ['title', session.title],
      ['status', paintStatus(style, session.status)],
      ['route', routePolicy],
      ['messages', session.message_count],
      ['parent', session.parent_session_id],
      ['owner', session.owner_id],
      ['created', shortTime(session.created_at)],
      ['archived', session.archived_at === null ? undefined : shortTime(session.archived_at)],
    ],
    style,
  );
}

const create: CommandSpec = {
  path: ['sessions', 'new'],
  summary: 'Create a session',
  args: [],
  options: { title: { type: 'string', value: 'title', description: 'Its title' }, ...ROUTE_OPTIONS },
  examples: ['runyard sessions new --title "Release 1.4" --model claude-sonnet-4'],
  async run(context) {
    const body = { title: context.options.string('title'), route_policy: route(context) };
    const session = await context.api().post<SessionView>('v1/sessions', body, { 'idempotency-key': randomUUID() });
    context.io.out(context.json ? `${JSON.stringify(session)}\n` : `${sessionFields(session, context.style)}\n`);
    return undefined;
  },
};

const list: CommandSpec = {
  path: ['sessions', 'list'],
  summary: 'List sessions, newest first (members: their own)',
  args: [],
  options: { status: { type: 'string', value: 'status', description: 'active or archived' }, ...LIST_OPTIONS },
  async run(context) {
    const query = {
      status: oneOf(context.options.string('status'), 'status', ['active', 'archived'] as const),
      limit: intOption(context.options.string('limit'), 'limit', 1, 200),
      cursor: context.options.string('cursor'),
    };
    const page = await context.api().get<Page<SessionView>>('v1/sessions', query);
    printPage(context, page, [
      { header: 'ID', value: (session) => session.id },
      { header: 'TITLE', value: (session) => session.title, max: 40 },
      { header: 'STATUS', value: (session) => session.status, paint: (text) => paintStatus(context.style, text) },
      { header: 'MESSAGES', value: (session) => session.message_count },
      { header: 'CREATED', value: (session) => shortTime(session.created_at) },
    ]);
    return undefined;
  },
};

const show: CommandSpec = {
  path: ['sessions', 'show'],
  summary: 'Show a session and its chat (with --json: {"session": ..., "messages": [...]})',
  args: [{ name: 'id', description: 'Session id' }],
  options: { messages: { type: 'string', value: 'n', description: 'How many of the first messages to show (default 50, at most 200)' } },
  async run(context) {
    const api = context.api();
    const id = idArgument(context.args[0], 'id');
    const session = await api.get<SessionView>(`v1/sessions/${id}`);
    const messages = await api.get<Page<ChatMessageView>>(`v1/sessions/${id}/messages`, { limit: intOption(context.options.string('messages'), 'messages', 1, 200) });
    if (context.json) {
      context.io.out(`${JSON.stringify({ session, messages: messages.data })}\n`);
      return undefined;
    }
    const { style } = context;
    const chat = messages.data.map((message) => `${style.dim(`#${message.seq}`)} ${style.bold(message.role)}: ${message.content ?? style.dim('(no text)')}`);
    const more = messages.next_cursor === null ? [] : [style.dim('… more messages (--messages <n>)')];
    context.io.out(`${sessionFields(session, style)}\n${chat.length > 0 ? `\n${[...chat, ...more].join('\n')}\n` : ''}`);
    return undefined;
  },
};

const archive: CommandSpec = {
  path: ['sessions', 'archive'],
  summary: 'Archive a session: it takes no new messages',
  args: [{ name: 'id', description: 'Session id' }],
  options: {},
  async run(context) {
    const session = await context.api().post<SessionView>(`v1/sessions/${idArgument(context.args[0], 'id')}/archive`);
    context.io.out(context.json ? `${JSON.stringify(session)}\n` : `Archived session ${session.id}.\n`);
    return undefined;
  },
};

/** Attempts of a turn whose answer was lost (no connection, 502-504): safe, its Idempotency-Key makes a retry the same turn. */
const TURN_ATTEMPTS = 3;
/** How long to wait for the assistant's answer to reach the chat after the run completed (it is appended asynchronously). */
const ANSWER_WAIT_MS = 10_000;
const ANSWER_POLL_MS = 100;

async function takeTurn(api: ApiClient, sessionId: string, body: Record<string, unknown>): Promise<TurnView> {
  const headers = { 'idempotency-key': randomUUID() };
  for (let attempt = 1; ; attempt++) {
    try {
      return await api.post<TurnView>(`v1/sessions/${sessionId}/turns`, body, headers);
    } catch (error) {
      const retryable = error instanceof ApiError ? [502, 503, 504].includes(error.status) : error instanceof CliError && error.exitCode === ExitCode.UNREACHABLE;
      if (!retryable || attempt >= TURN_ATTEMPTS) throw error;
      await new Promise((resolve) => setTimeout(resolve, 250 * attempt));
    }
  }
}

/**
 * The assistant messages a run posted into the chat after the user's message. The runs service
 * publishes them; the sessions service appends them right after, so they may trail the run's end.
 */
async function answerOf(api: ApiClient, sessionId: string, afterSeq: number, runId: string, expected: number, signal: AbortSignal): Promise<ChatMessageView[]> {
  const deadline = Date.now() + ANSWER_WAIT_MS;
  for (;;) {
    const found: ChatMessageView[] = [];
    let cursor: string | undefined;
    do {
      const page = await api.get<Page<ChatMessageView>>(`v1/sessions/${sessionId}/messages`, { after_seq: afterSeq, limit: 200, cursor });
      found.push(...page.data.filter((message) => message.role === 'assistant' && message.run_id === runId));
      cursor = page.next_cursor ?? undefined;
    } while (cursor !== undefined);
    if (found.length >= expected || Date.now() >= deadline || signal.aborted) return found;
    await new Promise((resolve) => setTimeout(resolve, ANSWER_POLL_MS));
  }
}

const send: CommandSpec = {
  path: ['sessions', 'send'],
  summary: 'Send a turn, follow its run live until it ends, and print the answer',
  details:
    'Posts the text as a turn (POST /v1/sessions/{id}/turns, with an Idempotency-Key so a retry after a\n' +
    "lost answer is the same turn), follows the run's live stream (resuming after a dropped connection) and\n" +
    "shows its progress on stderr, then prints the assistant's answer on stdout. When the run waits for an\n" +
    'approval or input, it prints the command that answers it and keeps following (or, with --no-wait,\n' +
    'exits 4). Exit 0 when the run completed, 1 failed, 3 cancelled or expired. <text> - reads stdin.',
  args: [
    { name: 'id', description: 'Session id' },
    { name: 'text', description: 'The message (- reads it from stdin)' },
  ],
  options: {
    ...ROUTE_OPTIONS,
    'busy-policy': { type: 'string', value: 'policy', description: 'When the session is busy: enqueue (default), reject or interrupt' },
    'no-wait': { type: 'boolean', description: 'Exit 4 when the run waits for an approval or input, instead of following it' },
    quiet: { type: 'boolean', short: 'q', description: 'No progress on stderr' },
  },
  examples: [
    'runyard sessions send 019a... "Hello, Runyard"',
    `runyard sessions send 019a... '{"steps":[{"approval":"ship","prompt":"Ship it?"}]}' --executor script`,
  ],
  async run(context) {
    const api = context.api();
    const sessionId = idArgument(context.args[0], 'id');
    const text = context.args[1] === '-' ? (await context.io.readStdin()).replace(/\n$/, '') : context.args[1];
    if (text.length === 0) throw new UsageError('<text> is empty');
    const body = {
      content: text,
      route: route(context),
      busy_policy: oneOf(context.options.string('busy-policy'), 'busy-policy', ['enqueue', 'reject', 'interrupt'] as const),
    };
    const { errStyle, io } = context;
    const quiet = context.options.flag('quiet');
    const turn = await takeTurn(api, sessionId, body);
    if (!quiet) io.err(`${errStyle.dim(`message #${turn.message.seq} sent;`)} run ${turn.run.id} ${paintStatus(errStyle, turn.run.status)}\n`);
    const outcome = await followRun({ api, runId: turn.run.id, noWait: context.options.flag('no-wait'), quiet, io, style: errStyle, signal: context.signal });
    if (outcome.interrupted) return ExitCode.INTERRUPTED;
    const { run } = outcome;
    const answer = run.status === 'completed' && outcome.messagesPosted > 0 ? await answerOf(api, sessionId, turn.message.seq, run.id, outcome.messagesPosted, context.signal) : [];
    if (context.json) io.out(`${JSON.stringify({ message: turn.message, run, answer, wait: outcome.openWait ?? null })}\n`);
    switch (run.status) {
      case 'completed':
        if (!context.json) {
          if (answer.length > 0) io.out(`${answer.map((message) => message.content ?? '').join('\n\n')}\n`);
          else if (run.output !== null) io.out(`${typeof run.output.text === 'string' ? run.output.text : JSON.stringify(run.output)}\n`);
        }
        return ExitCode.OK;
      case 'failed':
        io.err(`${errStyle.red('runyard:')} run ${run.id} failed (${run.failure_class ?? 'error'}): ${run.failure_message ?? 'no message'}\n`);
        return ExitCode.RUN_FAILED;
      case 'cancelled':
      case 'expired':
        io.err(`${errStyle.red('runyard:')} run ${run.id} ${run.status}${run.cancel_reason ? `: ${run.cancel_reason}` : ''}\n`);
        return ExitCode.RUN_CANCELLED;
      case 'waiting_for_approval':
      case 'waiting_for_input':
        if (!context.json) io.out(`run ${run.id} is ${run.status}${outcome.openWait ? `\n${answerHint(outcome.openWait)}` : ''}\n`);
        return ExitCode.RUN_WAITING;
      case 'queued':
      case 'pending':
      case 'running':
      case 'cancelling':
        // The stream ended without the run ending: only when the server could not be followed further.
        io.err(`${errStyle.red('runyard:')} lost track of run ${run.id} (${run.status}); see runyard runs show ${run.id}\n`);
        return ExitCode.UNREACHABLE;
    }
  },
};

export const sessionsCommands: CommandSpec[] = [create, list, show, send, archive];
