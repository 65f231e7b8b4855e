/**
 * @runyard/worker — run your own agents on Runyard.
 *
 * A worker claims runs from the runs service over the bus, executes each with the executor its route
 * names, and reports back: plan steps, approvals and inputs, progress, chat messages, and the outcome.
 * Leases, heartbeats, cancels, retries after crashes and graceful shutdown are handled here; an
 * executor only does the work.
 *
 * ```ts
 * import { NatsBus } from '@runyard/messaging';
 * import { Worker, echoExecutor, type Executor } from '@runyard/worker';
 *
 * // Runs created with `route: { executor: 'summarise' }` come here.
 * const summarise: Executor = async (ctx) => {
 *   await ctx.step('read', { title: 'Read the input', status: 'in_progress' });
 *   const summary = await mySummariser(ctx.run.input ?? '', { signal: ctx.signal }); // stop when aborted
 *   await ctx.step('read', { status: 'completed', evidence: [{ kind: 'text', text: summary }] });
 *   const { approved } = await ctx.requestApproval({ key: 'publish', prompt: 'Publish the summary?' });
 *   if (approved) await ctx.postMessage('summary', summary);
 *   return { summary, published: approved }; // the run's output; throw to fail the run
 * };
 *
 * const bus = await NatsBus.connect({ servers: ['nats://127.0.0.1:4222'], name: 'my-worker' });
 * const worker = new Worker({ bus, workerId: `my-worker-${process.pid}`, executors: { summarise, echo: echoExecutor }, concurrency: 8 });
 * await worker.start();
 * process.once('SIGTERM', () => void worker.stop({ drainMs: 20_000 }).then(() => bus.close()));
 * ```
 *
 * An executor is re-run from the start when its run resumes after an approval or input, and when a
 * run is retried after a crash; everything it writes is keyed, so the second pass finds the first
 * pass's steps, waits and messages instead of duplicating them (see `Executor`).
 */
export { delay } from './abortable.js';
export {
  RunStopped,
  RunSuspended,
  type ApprovalAnswer,
  type ApprovalRequest,
  type Executor,
  type ExecutorContext,
  type InputRequest,
  type SpanHandle,
  type StepUpdate,
  type SummaryOptions,
  type StopReason,
} from './executor.js';
export { echoExecutor, inputText } from './executors/echo.executor.js';
export { parseScenario, scriptExecutor, type Scenario, type ScriptItem } from './executors/script.executor.js';
export { logProducerId, RunLog, type RunLogLineOptions, type RunLogSettings, type SendAppend } from './run-log.js';
export { Worker, type StopOptions, type WorkerOptions } from './worker.js';
export { silentLogger, type WorkerLogger } from './worker-logger.js';

import { echoExecutor } from './executors/echo.executor.js';
import { scriptExecutor } from './executors/script.executor.js';
import type { Executor } from './executor.js';

/** The executors this library ships, by their route names. */
export const builtInExecutors: Readonly<Record<'echo' | 'script', Executor>> = { echo: echoExecutor, script: scriptExecutor };
