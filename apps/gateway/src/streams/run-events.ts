import { RunStatusChanged, TERMINAL_RUN_STATUSES, type EventEnvelope, type RunStatus } from '@runyard/contracts';

function isTerminalStatus(value: unknown): value is RunStatus {
  return typeof value === 'string' && (TERMINAL_RUN_STATUSES as ReadonlySet<string>).has(value);
}

/** The run's last event: its change to a terminal status (nothing leaves a terminal status, §4). */
export function endsRun(envelope: EventEnvelope, runId: string): boolean {
  if (envelope.subject !== RunStatusChanged.subject || envelope.run_id !== runId) return false;
  const data = envelope.data;
  return typeof data === 'object' && data !== null && 'to' in data && isTerminalStatus(data.to);
}
