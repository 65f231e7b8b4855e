import type { Page } from '@runyard/contracts';
import type { CommandSpec } from '../command.js';
import { shortTime } from '../output.js';
import { idArgument, intOption, oneOf } from '../values.js';
import { LIST_OPTIONS, printPage } from './pages.js';

interface AuditEvent {
  id: string;
  actor_id: string | null;
  actor_kind: string;
  action: string;
  target_type: string | null;
  target_id: string | null;
  outcome: 'success' | 'failure';
  status_code: number | null;
  reason: string | null;
  created_at: string;
}

const list: CommandSpec = {
  path: ['audit', 'list'],
  summary: "List the tenant's audit events, newest first (tenant admins)",
  args: [],
  options: {
    action: { type: 'string', value: 'action', description: 'Only this action, e.g. api_key.revoke' },
    actor: { type: 'string', value: 'id', description: 'Only this principal’s actions' },
    'target-type': { type: 'string', value: 'type', description: 'Only on this kind of target, e.g. run' },
    'target-id': { type: 'string', value: 'id', description: 'Only on this target' },
    outcome: { type: 'string', value: 'outcome', description: 'success or failure' },
    ...LIST_OPTIONS,
  },
  async run(context) {
    const actor = context.options.string('actor');
    const page = await context.api().get<Page<AuditEvent>>('v1/audit-events', {
      action: context.options.string('action'),
      actor_id: actor === undefined ? undefined : idArgument(actor, 'actor'),
      target_type: context.options.string('target-type'),
      target_id: context.options.string('target-id'),
      outcome: oneOf(context.options.string('outcome'), 'outcome', ['success', 'failure'] as const),
      limit: intOption(context.options.string('limit'), 'limit', 1, 200),
      cursor: context.options.string('cursor'),
    });
    printPage(context, page, [
      { header: 'TIME', value: (event) => shortTime(event.created_at) },
      { header: 'ACTION', value: (event) => event.action },
      { header: 'OUTCOME', value: (event) => event.outcome, paint: (text) => (text === 'failure' ? context.style.red(text) : text) },
      { header: 'ACTOR', value: (event) => event.actor_id ?? event.actor_kind },
      { header: 'TARGET', value: (event) => (event.target_type === null ? null : `${event.target_type} ${event.target_id ?? ''}`.trim()), max: 50 },
      { header: 'REASON', value: (event) => event.reason, max: 40 },
    ]);
    return undefined;
  },
};

export const auditCommands: CommandSpec[] = [list];
