/** Deployment settings of the runs service, provided as RUNS_SETTINGS. */
export interface RunsSettings {
  /** Executor of runs whose run and session give no route (the deployment default route). */
  defaultExecutor: string;
  /** How often the run sweeper (RunSweeper) looks for expired leases, TTLs, deadlines and wait timeouts. */
  leaseSweepIntervalMs: number;
  /** How long a worker has to stop a cancelled run before the run is cancelled without it. */
  cancelGraceMs: number;
  /** How long a run's events stay readable in its history (`GET /v1/runs/{id}/events`) after publication. */
  eventHistoryRetentionMs: number;
}

export const RUNS_SETTINGS = Symbol('runyard.runs.settings');

/** Seven days: as long as the event stream keeps events (NatsBus's default max age). */
const SEVEN_DAYS_MS = 7 * 24 * 3_600_000;

export const DEFAULT_RUNS_SETTINGS: RunsSettings = {
  defaultExecutor: 'echo',
  leaseSweepIntervalMs: 1000,
  cancelGraceMs: 30_000,
  eventHistoryRetentionMs: SEVEN_DAYS_MS,
};
