import type { CallerScope, EventEnvelope } from '@runyard/contracts';

/** Which events one stream may carry: the caller's scope plus the stream's own filters. */
export interface EventSelection {
  scope: CallerScope;
  sessionId?: string;
  runId?: string;
}

/**
 * The one place a streamed event is checked against its reader. Every event carries `tenant_id`; a
 * member sees only events whose `owner_id` is itself (the owner of the session or run concerned), so
 * an event without an owner is for admins only. The stream's tail reads every tenant's events: this
 * filter is what keeps them apart.
 */
export function isVisible(envelope: EventEnvelope, scope: CallerScope): boolean {
  if (envelope.tenant_id !== scope.tenant_id) return false;
  if (scope.role === 'admin') return true;
  return envelope.owner_id !== undefined && envelope.owner_id === scope.principal_id;
}

export function isSelected(envelope: EventEnvelope, selection: EventSelection): boolean {
  if (!isVisible(envelope, selection.scope)) return false;
  if (selection.sessionId !== undefined && envelope.session_id !== selection.sessionId) return false;
  if (selection.runId !== undefined && envelope.run_id !== selection.runId) return false;
  return true;
}
