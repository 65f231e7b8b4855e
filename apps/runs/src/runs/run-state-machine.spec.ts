import { describe, expect, it } from '@jest/globals';
import { DomainError, ErrorCode, RUN_STATUSES, TERMINAL_RUN_STATUSES, type RunStatus } from '@runyard/contracts';
import { transition } from './run-state-machine.js';

// DESIGN §4, written out pair by pair: the table in run-state-machine.ts must say exactly this.
const ALLOWED: ReadonlyArray<[RunStatus, RunStatus]> = [
  ['queued', 'pending'],
  ['queued', 'cancelled'],
  ['queued', 'expired'],
  ['pending', 'running'],
  ['pending', 'cancelled'],
  ['pending', 'expired'],
  ['running', 'waiting_for_approval'],
  ['running', 'waiting_for_input'],
  ['running', 'completed'],
  ['running', 'failed'],
  ['running', 'pending'],
  ['running', 'cancelling'],
  ['waiting_for_approval', 'pending'],
  ['waiting_for_approval', 'cancelled'],
  ['waiting_for_approval', 'expired'],
  ['waiting_for_input', 'pending'],
  ['waiting_for_input', 'cancelled'],
  ['waiting_for_input', 'expired'],
  ['cancelling', 'cancelled'],
];

function outcome(from: RunStatus, to: RunStatus): 'ok' | ErrorCode {
  try {
    expect(transition({ id: 'r', status: from }, to)).toEqual({ from, to });
    return 'ok';
  } catch (error) {
    if (error instanceof DomainError) return error.code;
    throw error;
  }
}

describe('run state machine', () => {
  const pairs = RUN_STATUSES.flatMap((from) => RUN_STATUSES.map((to) => [from, to] as [RunStatus, RunStatus]));

  it.each(pairs)('%s → %s', (from, to) => {
    const allowed = ALLOWED.some(([f, t]) => f === from && t === to);
    const expected = allowed ? 'ok' : TERMINAL_RUN_STATUSES.has(from) ? ErrorCode.RUN_TERMINAL : ErrorCode.INVALID_TRANSITION;
    expect(outcome(from, to)).toBe(expected);
  });

  it('covers all 100 pairs, and no terminal status has a way out', () => {
    expect(pairs).toHaveLength(100);
    for (const from of TERMINAL_RUN_STATUSES) {
      for (const to of RUN_STATUSES) expect(outcome(from, to)).toBe(ErrorCode.RUN_TERMINAL);
    }
  });

  it('sends a run that was not running straight to cancelled, and only a running one through cancelling', () => {
    for (const from of RUN_STATUSES) {
      if (TERMINAL_RUN_STATUSES.has(from)) continue;
      expect({ from, viaCancelling: outcome(from, 'cancelling') === 'ok' }).toEqual({ from, viaCancelling: from === 'running' });
    }
  });
});
