import type { TraceSpanStatus } from '@runyard/contracts';
import { errorMessage } from '../worker-logger.js';

/** Where the held run stood (before its report, and after). */
type PassState = 'running' | 'cancelling' | 'suspended' | 'lost' | 'released' | 'done';

/**
 * How the root span of one pass of a run ends, from the executor's outcome and what became of the
 * run: completed → ok; failed → error with the executor's message; suspended (a wait) → ok; a lost
 * lease → error; cancelled or given back at shutdown → unset (nothing failed). `outcome` attribute
 * says which.
 */
export function runSpanEnd(
  outcome: { kind: 'output'; output: unknown } | { kind: 'error'; error: unknown },
  before: PassState,
  after: PassState,
): { status: TraceSpanStatus; message?: string; attributes: Record<string, unknown> } {
  if (before === 'suspended') return { status: 'ok', attributes: { outcome: 'suspended' } };
  if (before === 'lost' || after === 'lost') return { status: 'error', message: 'the worker lost the run’s lease', attributes: { outcome: 'lease_lost' } };
  if (before === 'released' || after === 'released') return { status: 'unset', attributes: { outcome: 'released' } };
  if (before === 'cancelling' || after === 'cancelling') return { status: 'unset', attributes: { outcome: 'cancelled' } };
  if (outcome.kind === 'error') return { status: 'error', message: errorMessage(outcome.error), attributes: { outcome: 'failed' } };
  const output = outcome.output;
  if (output !== undefined && (output === null || typeof output !== 'object' || Array.isArray(output))) {
    return { status: 'error', message: 'the executor returned an output that is not a JSON object', attributes: { outcome: 'failed' } };
  }
  return { status: 'ok', attributes: { outcome: 'completed' } };
}
