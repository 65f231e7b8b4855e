import { DomainError, ErrorCode, TERMINAL_RUN_STATUSES, type RunStatus } from '@runyard/contracts';
import { runTerminal } from './run-errors.js';

/**
 * The one table of allowed run transitions (DESIGN §4). A run that is not running is cancelled at
 * once; only a running run passes through `cancelling`, while its worker is being stopped. Terminal
 * statuses have no way out.
 */
const TRANSITIONS: { readonly [From in RunStatus]: readonly RunStatus[] } = {
  queued: ['pending', 'cancelled', 'expired'],
  pending: ['running', 'cancelled', 'expired'],
  running: ['waiting_for_approval', 'waiting_for_input', 'completed', 'failed', 'pending', 'cancelling'],
  waiting_for_approval: ['pending', 'cancelled', 'expired'],
  waiting_for_input: ['pending', 'cancelled', 'expired'],
  cancelling: ['cancelled'],
  completed: [],
  failed: [],
  cancelled: [],
  expired: [],
};

export function canTransition(from: RunStatus, to: RunStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

/**
 * Checks that `run` may move to `to` and returns the change; every status change goes through here.
 * Throws RUN_TERMINAL from a terminal status (a late write must change nothing), INVALID_TRANSITION
 * for any other move the table does not allow.
 */
export function transition(run: { id: string; status: RunStatus }, to: RunStatus): { from: RunStatus; to: RunStatus } {
  const from = run.status;
  if (TERMINAL_RUN_STATUSES.has(from)) throw runTerminal(run.id, from);
  if (!canTransition(from, to)) throw new DomainError(ErrorCode.INVALID_TRANSITION, `run ${run.id} cannot go from ${from} to ${to}`);
  return { from, to };
}
