/** Deployment settings of the logs feature, provided as LOGS_SETTINGS. */
export interface LogsSettings {
  /** After its run ended, a log takes lines this much longer (producers' last batches in flight), then closes. */
  closeGraceMs: number;
  /** How often logs due to close are closed. */
  closeSweepIntervalMs: number;
  /** Lines one run's log may hold; past it one system line marks the end and the rest is refused. */
  maxLinesPerRun: number;
  /** Bytes of text one run's log may hold (same treatment as maxLinesPerRun). */
  maxBytesPerRun: number;
  /** Bytes of text one tenant may append per minute, across replicas (RATE_LIMITED past it). */
  tenantBytesPerMinute: number;
}

export const LOGS_SETTINGS = Symbol('runyard.transcripts.logs-settings');

export const DEFAULT_LOGS_SETTINGS: LogsSettings = {
  closeGraceMs: 10_000,
  closeSweepIntervalMs: 1000,
  maxLinesPerRun: 100_000,
  maxBytesPerRun: 64 * 1024 * 1024,
  tenantBytesPerMinute: 256 * 1024 * 1024,
};
