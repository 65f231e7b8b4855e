import type { AnsweredWait, Page, PlanStepView, RunView, WaitView } from '@runyard/contracts';
import type { CommandContext, CommandSpec } from '../command.js';
import { answerHint } from '../follow-run.js';
import { paintStatus, renderFields, shortTime, type Style } from '../output.js';
import { UsageError } from '../exit-codes.js';
import { idArgument, intOption, jsonObject } from '../values.js';
import { LIST_OPTIONS, printPage } from './pages.js';
import { traceCommand } from './trace.command.js';

const STATUS_LIST = /^[a-z_]+(,[a-z_]+)*$/;

function runFields(run: RunView, style: Style): string {
  const route = [`executor=${run.route.executor}`, run.route.model && `model=${run.route.model}`, run.route.provider && `provider=${run.route.provider}`].filter(Boolean).join(' ');
  const failure = run.failure_class === null ? undefined : `${run.failure_class}: ${run.failure_message ?? ''}`;
  return renderFields(
    [
      ['id', run.id],
      ['status', paintStatus(style, run.status)],
      ['queue position', run.queue_position ?? undefined],
      ['session', run.session_id],
      ['source', run.source],
      ['route', `${route} (${run.route_source})`],
      ['attempt', `${run.attempt} of ${run.max_attempts}`],
      ['worker', run.worker_id],
      ['input', run.input === null ? null : run.input.replace(/\s+/g, ' ').slice(0, 200)],
      ['output', run.output === null ? null : JSON.stringify(run.output)],
      ['failure', failure],
      ['cancel reason', run.cancel_reason ?? undefined],
      ['created', shortTime(run.created_at)],
      ['started', shortTime(run.started_at)],
      ['finished', shortTime(run.finished_at)],
    ],
    style,
  );
}

function waitLine(wait: WaitView, style: Style): string {
  const answer = wait.answer === null ? '' : ` → ${wait.answer.decision}${wait.answer.reason ? `: ${wait.answer.reason}` : ''}`;
  return `${wait.kind} ${style.bold(wait.key)} ${paintStatus(style, wait.status)}: ${wait.prompt}${answer}`;
}

const list: CommandSpec = {
  path: ['runs', 'list'],
  summary: 'List runs, newest first (members: those of their own sessions)',
  args: [],
  options: {
    session: { type: 'string', short: 's', value: 'id', description: 'Only the runs of this session' },
    status: { type: 'string', value: 'status', description: 'Only these statuses, comma-separated (e.g. running,waiting_for_approval)' },
    ...LIST_OPTIONS,
  },
  async run(context) {
    const session = context.options.string('session');
    const status = context.options.string('status');
    if (status !== undefined && !STATUS_LIST.test(status)) throw new UsageError('--status must be statuses separated by commas');
    const page = await context.api().get<Page<RunView>>('v1/runs', {
      session_id: session === undefined ? undefined : idArgument(session, 'session'),
      status,
      limit: intOption(context.options.string('limit'), 'limit', 1, 200),
      cursor: context.options.string('cursor'),
    });
    printPage(context, page, [
      { header: 'ID', value: (run) => run.id },
      { header: 'STATUS', value: (run) => run.status, paint: (text) => paintStatus(context.style, text) },
      { header: 'SESSION', value: (run) => run.session_id },
      { header: 'EXECUTOR', value: (run) => run.route.executor },
      { header: 'SOURCE', value: (run) => run.source },
      { header: 'CREATED', value: (run) => shortTime(run.created_at) },
    ]);
    return undefined;
  },
};

const show: CommandSpec = {
  path: ['runs', 'show'],
  summary: 'Show a run, with its open waits and the commands that answer them',
  args: [{ name: 'id', description: 'Run id' }],
  options: {},
  async run(context) {
    const api = context.api();
    const id = idArgument(context.args[0], 'id');
    const run = await api.get<RunView>(`v1/runs/${id}`);
    if (context.json) {
      context.io.out(`${JSON.stringify(run)}\n`);
      return undefined;
    }
    let text = runFields(run, context.style);
    if (run.status === 'waiting_for_approval' || run.status === 'waiting_for_input') {
      const waits = await api.get<Page<WaitView>>(`v1/runs/${id}/waits`, { limit: 200 });
      for (const wait of waits.data.filter((candidate) => candidate.status === 'open')) text += `\n\n${waitLine(wait, context.style)}\n  ${answerHint(wait)}`;
    }
    context.io.out(`${text}\n`);
    return undefined;
  },
};

const cancel: CommandSpec = {
  path: ['runs', 'cancel'],
  summary: 'Cancel a run (and its unfinished sub-runs); idempotent',
  args: [{ name: 'id', description: 'Run id' }],
  options: { reason: { type: 'string', value: 'text', description: 'Why (kept on the run and in the audit trail)' } },
  async run(context) {
    const run = await context.api().post<RunView>(`v1/runs/${idArgument(context.args[0], 'id')}/cancel`, { reason: context.options.string('reason') });
    context.io.out(context.json ? `${JSON.stringify(run)}\n` : `Run ${run.id} is ${paintStatus(context.style, run.status)}.\n`);
    return undefined;
  },
};

const steps: CommandSpec = {
  path: ['runs', 'steps'],
  summary: "List a run's plan steps, in order",
  args: [{ name: 'id', description: 'Run id' }],
  options: LIST_OPTIONS,
  async run(context) {
    const page = await context.api().get<Page<PlanStepView>>(`v1/runs/${idArgument(context.args[0], 'id')}/steps`, {
      limit: intOption(context.options.string('limit'), 'limit', 1, 200),
      cursor: context.options.string('cursor'),
    });
    printPage(context, page, [
      { header: '#', value: (step) => step.position },
      { header: 'KEY', value: (step) => step.key },
      { header: 'TITLE', value: (step) => step.title, max: 40 },
      { header: 'STATUS', value: (step) => step.status, paint: (text) => paintStatus(context.style, text) },
      { header: 'EVIDENCE', value: (step) => step.evidence.map((item) => item.text ?? item.url ?? item.kind).join(' | '), max: 50 },
      { header: 'UPDATED', value: (step) => shortTime(step.updated_at) },
    ]);
    return undefined;
  },
};

const waits: CommandSpec = {
  path: ['runs', 'waits'],
  summary: "List a run's approvals and input requests, with their answers",
  args: [{ name: 'id', description: 'Run id' }],
  options: LIST_OPTIONS,
  async run(context) {
    const page = await context.api().get<Page<WaitView>>(`v1/runs/${idArgument(context.args[0], 'id')}/waits`, {
      limit: intOption(context.options.string('limit'), 'limit', 1, 200),
      cursor: context.options.string('cursor'),
    });
    printPage(context, page, [
      { header: 'ID', value: (wait) => wait.id },
      { header: 'KIND', value: (wait) => wait.kind },
      { header: 'KEY', value: (wait) => wait.key },
      { header: 'STATUS', value: (wait) => wait.status, paint: (text) => paintStatus(context.style, text) },
      { header: 'PROMPT', value: (wait) => wait.prompt, max: 40 },
      { header: 'ANSWER', value: (wait) => (wait.answer === null ? null : `${wait.answer.decision}${wait.answer.reason ? `: ${wait.answer.reason}` : ''}`), max: 40 },
    ]);
    return undefined;
  },
};

const WAIT_ARGS = [
  { name: 'run', description: 'Run id' },
  { name: 'wait', description: 'Wait id (runyard runs show <run> lists the open ones)' },
];

async function answer(context: CommandContext, action: 'approve' | 'deny' | 'respond', body: Record<string, unknown>): Promise<undefined> {
  const runId = idArgument(context.args[0], 'run');
  const waitId = idArgument(context.args[1], 'wait');
  const answered = await context.api().post<AnsweredWait>(`v1/runs/${runId}/waits/${waitId}/${action}`, body);
  if (context.json) context.io.out(`${JSON.stringify(answered)}\n`);
  else context.io.out(`${waitLine(answered.wait, context.style)}\nRun ${answered.run.id} is ${paintStatus(context.style, answered.run.status)}.\n`);
  return undefined;
}

const approve: CommandSpec = {
  path: ['runs', 'approve'],
  summary: 'Approve what a run waits for; the run resumes',
  args: WAIT_ARGS,
  options: { reason: { type: 'string', value: 'text', description: 'A note for the agent and the audit trail' } },
  run: (context) => answer(context, 'approve', { reason: context.options.string('reason') }),
};

const deny: CommandSpec = {
  path: ['runs', 'deny'],
  summary: 'Deny what a run waits for; the agent gets the denial and the reason',
  args: WAIT_ARGS,
  options: { reason: { type: 'string', value: 'text', description: 'Why' } },
  run: (context) => answer(context, 'deny', { reason: context.options.string('reason') }),
};

const respond: CommandSpec = {
  path: ['runs', 'respond'],
  summary: "Answer a run's input request with a JSON object (checked against the wait's schema)",
  args: WAIT_ARGS,
  options: { input: { type: 'string', value: 'json', description: 'The answer, a JSON object (required)' } },
  examples: [`runyard runs respond 019a... 019b... --input '{"branch":"main"}'`],
  run: async (context) => {
    const input = context.options.string('input');
    if (input === undefined) throw new UsageError('runs respond needs --input <json>');
    return await answer(context, 'respond', { input: jsonObject(input, 'input') });
  },
};

export const runsCommands: CommandSpec[] = [list, show, cancel, steps, waits, approve, deny, respond, traceCommand];
