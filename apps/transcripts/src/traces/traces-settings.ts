/** Deployment settings of the traces feature, provided as TRACES_SETTINGS. */
export interface TracesSettings {
  /** Spans one run's trace may hold; past it new spans are refused (updates of recorded ones are still taken). */
  maxSpansPerRun: number;
}

export const TRACES_SETTINGS = Symbol('runyard.transcripts.traces-settings');

export const DEFAULT_TRACES_SETTINGS: TracesSettings = { maxSpansPerRun: 10_000 };
