import { PLAN_STEP_STATUSES, type PlanStepStatus } from '@runyard/contracts';
import { delay } from '../abortable.js';
import type { Executor, ExecutorContext } from '../executor.js';
import { inputText } from './echo.executor.js';

/**
 * `script`: follows a scenario written as JSON in the run's input, for demos and tests. A scenario is
 *
 *   { "steps": [ <item>, ... ], "output": { ... } }
 *
 * `output` (optional) is the run's output; when the scenario asked approvals or inputs, their answers
 * are added to it as `answers: { <key>: { decision, reason } | { input } }`. Items run in order; each
 * is one of:
 *
 *   { "step": "plan", "title": "Make a plan", "delay_ms": 50, "evidence": "text", "status": "completed" }
 *       a plan step with key `plan`: opened in_progress (title defaults to the key), then after
 *       `delay_ms` set to `status` (default completed) with `evidence` as text. A re-run (after a
 *       resume or a crash) skips steps the run already completed.
 *   { "delay_ms": 1000 }                          waits; a cancel or a lost lease stops it at once
 *   { "progress": "half way", "data": { ... } }   reports progress
 *   { "approval": "deploy", "prompt": "Deploy to prod?", "details": { ... }, "timeout_seconds": 3600,
 *     "on_deny": "fail" }
 *       asks for an approval (the run waits for it, then runs again from the start with the answer).
 *       Denied, the run fails with a message saying so, unless `on_deny` is "continue".
 *   { "input": "branch", "prompt": "Which branch?", "schema": { ... }, "timeout_seconds": 3600 }
 *       asks for a structured input (the answer must satisfy `schema` when given)
 *   { "message": "Deployed.", "key": "done" }     an assistant message into the session chat, once
 *                                                 per key (default `message-<item index>`)
 *   { "fail": "boom" }                            fails the run with that message
 *
 * A scenario holds at most 100 items whose delays add up to at most 10 minutes: any member can route
 * a run here, and a run holds a worker slot while it waits. Anything else in the input fails the run
 * with a message that says what is wrong.
 */
export const scriptExecutor: Executor = async (ctx) => {
  const scenario = parseScenario(inputText(ctx.run));
  const answers: Record<string, unknown> = {};
  for (const item of scenario.steps) await perform(ctx, item, answers);
  const output = scenario.output ?? {};
  return Object.keys(answers).length > 0 ? { ...output, answers } : output;
};

export type ScriptItem =
  | { kind: 'step'; key: string; title: string; delayMs: number; evidence?: string; status: PlanStepStatus }
  | { kind: 'delay'; delayMs: number }
  | { kind: 'progress'; message: string; data?: Record<string, unknown> }
  | { kind: 'approval'; key: string; prompt: string; details?: Record<string, unknown>; timeoutSeconds?: number; onDeny: 'fail' | 'continue' }
  | { kind: 'input'; key: string; prompt: string; schema?: Record<string, unknown>; timeoutSeconds?: number }
  | { kind: 'message'; key: string; content: string }
  | { kind: 'fail'; message: string };

export interface Scenario {
  steps: ScriptItem[];
  output?: Record<string, unknown>;
}

async function perform(ctx: ExecutorContext, item: ScriptItem, answers: Record<string, unknown>): Promise<void> {
  ctx.signal.throwIfAborted();
  switch (item.kind) {
    case 'step': {
      if (ctx.steps.some((step) => step.key === item.key && step.status === 'completed')) return;
      await ctx.step(item.key, { title: item.title, status: 'in_progress' });
      await delay(item.delayMs, ctx.signal);
      await ctx.step(item.key, { status: item.status, ...(item.evidence === undefined ? {} : { evidence: [{ kind: 'text', text: item.evidence }] }) });
      return;
    }
    case 'delay':
      return delay(item.delayMs, ctx.signal);
    case 'progress':
      return ctx.progress(item.message, item.data);
    case 'approval': {
      const answer = await ctx.requestApproval({ key: item.key, prompt: item.prompt, details: item.details, timeoutSeconds: item.timeoutSeconds });
      answers[item.key] = { decision: answer.decision, reason: answer.reason };
      if (!answer.approved && item.onDeny === 'fail') {
        throw new Error(`approval "${item.key}" was denied${answer.reason === null ? '' : `: ${answer.reason}`}`);
      }
      return;
    }
    case 'input':
      answers[item.key] = { input: await ctx.requestInput({ key: item.key, prompt: item.prompt, schema: item.schema, timeoutSeconds: item.timeoutSeconds }) };
      return;
    case 'message':
      return ctx.postMessage(item.key, item.content);
    case 'fail':
      throw new Error(item.message);
  }
}

// ---- reading a scenario ----

const KEY = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$/;
/** Bounds of one scenario: any member may write one, and each pass of it holds a worker slot. */
const ITEMS_MAX = 100;
const DELAY_TOTAL_MAX_MS = 10 * 60 * 1000;
const KINDS = ['step', 'progress', 'approval', 'input', 'message', 'fail'] as const;
const FIELDS: Record<(typeof KINDS)[number] | 'delay', readonly string[]> = {
  step: ['step', 'title', 'delay_ms', 'evidence', 'status'],
  delay: ['delay_ms'],
  progress: ['progress', 'data'],
  approval: ['approval', 'prompt', 'details', 'timeout_seconds', 'on_deny'],
  input: ['input', 'prompt', 'schema', 'timeout_seconds'],
  message: ['message', 'key'],
  fail: ['fail'],
};

class ScenarioError extends Error {
  constructor(message: string) {
    super(`script: ${message}`);
    this.name = 'ScenarioError';
  }
}

/** Reads and checks a scenario; throws a message that says what is wrong and where. */
export function parseScenario(text: string): Scenario {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ScenarioError('the run input must be a JSON scenario: {"steps": [...], "output": {...}}');
  }
  if (!isObject(json)) throw new ScenarioError('the scenario must be a JSON object');
  const unknown = Object.keys(json).filter((field) => field !== 'steps' && field !== 'output');
  if (unknown.length > 0) throw new ScenarioError(`unknown field ${unknown.join(', ')}`);
  if (!Array.isArray(json.steps)) throw new ScenarioError('"steps" must be an array');
  if (json.output !== undefined && !isObject(json.output)) throw new ScenarioError('"output" must be an object');
  if (json.steps.length > ITEMS_MAX) throw new ScenarioError(`"steps" may hold at most ${ITEMS_MAX} items (this one holds ${json.steps.length})`);
  const steps = json.steps.map((item, index) => parseItem(item, index));
  const delayTotal = steps.reduce((total, item) => total + ('delayMs' in item ? item.delayMs : 0), 0);
  if (delayTotal > DELAY_TOTAL_MAX_MS) {
    throw new ScenarioError(`the delays of a scenario must add up to at most ${DELAY_TOTAL_MAX_MS} ms (10 minutes); these add up to ${delayTotal} ms`);
  }
  return { steps, ...(json.output === undefined ? {} : { output: json.output }) };
}

function parseItem(item: unknown, index: number): ScriptItem {
  const at = `steps[${index}]`;
  if (!isObject(item)) throw new ScenarioError(`${at} must be an object`);
  const kinds = KINDS.filter((kind) => kind in item);
  if (kinds.length > 1) throw new ScenarioError(`${at} has more than one of ${KINDS.join(', ')}`);
  const kind: keyof typeof FIELDS = kinds.length === 0 ? 'delay' : kinds[0];
  const unknown = Object.keys(item).filter((field) => !FIELDS[kind].includes(field));
  if (unknown.length > 0) throw new ScenarioError(`${at}: unknown field ${unknown.join(', ')} for a ${kind} item`);
  const read = new FieldReader(item, at);
  switch (kind) {
    case 'step': {
      const key = read.key('step');
      const status = read.optionalString('status') ?? 'completed';
      if (!(PLAN_STEP_STATUSES as readonly string[]).includes(status)) throw new ScenarioError(`${at}.status must be one of ${PLAN_STEP_STATUSES.join(', ')}`);
      const evidence = read.optionalString('evidence');
      return { kind, key, title: read.optionalString('title') ?? key, delayMs: read.delay(false), status: status as PlanStepStatus, ...(evidence === undefined ? {} : { evidence }) };
    }
    case 'delay':
      return { kind, delayMs: read.delay(true) };
    case 'progress':
      return { kind, message: read.string('progress'), data: read.optionalObject('data') };
    case 'approval': {
      const onDeny = read.optionalString('on_deny') ?? 'fail';
      if (onDeny !== 'fail' && onDeny !== 'continue') throw new ScenarioError(`${at}.on_deny must be "fail" or "continue"`);
      return {
        kind,
        key: read.key('approval'),
        prompt: read.string('prompt'),
        details: read.optionalObject('details'),
        timeoutSeconds: read.optionalPositiveInt('timeout_seconds'),
        onDeny,
      };
    }
    case 'input':
      return { kind, key: read.key('input'), prompt: read.string('prompt'), schema: read.optionalObject('schema'), timeoutSeconds: read.optionalPositiveInt('timeout_seconds') };
    case 'message':
      return { kind, content: read.string('message'), key: item.key === undefined ? `message-${index}` : read.key('key') };
    case 'fail':
      return { kind, message: read.string('fail') };
  }
}

class FieldReader {
  constructor(
    private readonly item: Record<string, unknown>,
    private readonly at: string,
  ) {}

  string(field: string): string {
    const value = this.item[field];
    if (typeof value !== 'string' || value.length === 0) throw new ScenarioError(`${this.at}.${field} must be a non-empty string`);
    return value;
  }

  optionalString(field: string): string | undefined {
    return this.item[field] === undefined ? undefined : this.string(field);
  }

  key(field: string): string {
    const value = this.string(field);
    if (!KEY.test(value)) throw new ScenarioError(`${this.at}.${field} must be a key: letters, digits and . _ : / - (at most 128)`);
    return value;
  }

  optionalObject(field: string): Record<string, unknown> | undefined {
    const value = this.item[field];
    if (value === undefined) return undefined;
    if (!isObject(value)) throw new ScenarioError(`${this.at}.${field} must be an object`);
    return value;
  }

  optionalPositiveInt(field: string): number | undefined {
    const value = this.item[field];
    if (value === undefined) return undefined;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) throw new ScenarioError(`${this.at}.${field} must be a positive integer`);
    return value;
  }

  delay(required: boolean): number {
    const value = this.item.delay_ms;
    if (value === undefined && !required) return 0;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > DELAY_TOTAL_MAX_MS) {
      throw new ScenarioError(`${this.at}.delay_ms must be an integer from 0 to ${DELAY_TOTAL_MAX_MS}`);
    }
    return value;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
