import { DomainError, ErrorCode } from '@runyard/contracts';

/** Absent, in another tenant or owned by someone else: the caller cannot tell these apart. */
export function runNotFound(runId: string): DomainError {
  return new DomainError(ErrorCode.NOT_FOUND, `run ${runId} not found`);
}

/** The presented lease is not the run's current one (expired, taken over, or never held). */
export function leaseLost(runId: string): DomainError {
  return new DomainError(ErrorCode.LEASE_LOST, `the lease on run ${runId} is no longer held by this worker`);
}

/** A terminal run is immutable forever: late completions, cancels and renewals get this and change nothing. */
export function runTerminal(runId: string, status: string): DomainError {
  return new DomainError(ErrorCode.RUN_TERMINAL, `run ${runId} is ${status}: it can no longer change`);
}
