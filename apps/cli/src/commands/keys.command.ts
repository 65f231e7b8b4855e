import type { Page } from '@runyard/contracts';
import type { CommandSpec } from '../command.js';
import { UsageError } from '../exit-codes.js';
import { renderFields, shortTime } from '../output.js';
import { idArgument, intOption } from '../values.js';
import { LIST_OPTIONS, printPage } from './pages.js';

/** An API key as the gateway lists it; `key` only in the answer that created it. */
interface ApiKey {
  id: string;
  name: string;
  prefix: string;
  principal_id: string;
  role: string;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
  key?: string;
}

const create: CommandSpec = {
  path: ['keys', 'create'],
  summary: 'Create an API key (admins: for any principal of the tenant; members: for themselves)',
  details: 'The key is printed this once and never again: store it now.',
  args: [],
  options: {
    name: { type: 'string', value: 'name', description: 'What it is for (required)' },
    principal: { type: 'string', value: 'id', description: 'Its principal (admins only; default: you)' },
  },
  examples: ['runyard keys create --name "deploy pipeline"'],
  async run(context) {
    const name = context.options.string('name');
    if (name === undefined) throw new UsageError('keys create needs --name <name>');
    const principal = context.options.string('principal');
    const key = await context.api().post<ApiKey>('v1/api-keys', { name, principal_id: principal === undefined ? undefined : idArgument(principal, 'principal') });
    if (context.json) context.io.out(`${JSON.stringify(key)}\n`);
    else {
      const fields = renderFields(
        [
          ['id', key.id],
          ['name', key.name],
          ['principal', key.principal_id],
          ['role', key.role],
          ['key', context.style.bold(key.key ?? '')],
        ],
        context.style,
      );
      context.io.out(`${fields}\n${context.style.yellow('Store the key now: it is not shown again.')}\n`);
    }
    return undefined;
  },
};

const list: CommandSpec = {
  path: ['keys', 'list'],
  summary: 'List API keys, newest first (admins: the tenant’s; members: their own)',
  args: [],
  options: LIST_OPTIONS,
  async run(context) {
    const page = await context.api().get<Page<ApiKey>>('v1/api-keys', {
      limit: intOption(context.options.string('limit'), 'limit', 1, 200),
      cursor: context.options.string('cursor'),
    });
    printPage(context, page, [
      { header: 'ID', value: (key) => key.id },
      { header: 'NAME', value: (key) => key.name, max: 30 },
      { header: 'PREFIX', value: (key) => key.prefix },
      { header: 'ROLE', value: (key) => key.role },
      { header: 'LAST USED', value: (key) => shortTime(key.last_used_at) },
      { header: 'REVOKED', value: (key) => shortTime(key.revoked_at), paint: (text) => (text === '-' ? text : context.style.dim(text)) },
    ]);
    return undefined;
  },
};

const revoke: CommandSpec = {
  path: ['keys', 'revoke'],
  summary: 'Revoke an API key (idempotent)',
  args: [{ name: 'id', description: 'Key id (from runyard keys list)' }],
  options: {},
  async run(context) {
    const key = await context.api().delete<ApiKey>(`v1/api-keys/${idArgument(context.args[0], 'id')}`);
    context.io.out(context.json ? `${JSON.stringify(key)}\n` : `Revoked key ${key.prefix} (${key.name}).\n`);
    return undefined;
  },
};

export const keysCommands: CommandSpec[] = [create, list, revoke];
