/** Deployment settings of the runs service, provided as RUNS_SETTINGS. */
export interface RunsSettings {
  /** Executor of runs whose run and session give no route (the deployment default route). */
  defaultExecutor: string;
  /** How often the lease sweeper looks for expired leases, TTLs and deadlines. */
  leaseSweepIntervalMs: number;
}

export const RUNS_SETTINGS = Symbol('runyard.runs.settings');

export const DEFAULT_RUNS_SETTINGS: RunsSettings = { defaultExecutor: 'echo', leaseSweepIntervalMs: 1000 };
