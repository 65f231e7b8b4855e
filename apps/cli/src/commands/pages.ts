import type { Page } from '@runyard/contracts';
import type { CommandContext, OptionSpec } from '../command.js';
import { renderTable, type Column } from '../output.js';

export const LIST_OPTIONS: Record<string, OptionSpec> = {
  limit: { type: 'string', value: 'n', description: 'At most this many (1-200; default 50)' },
  cursor: { type: 'string', value: 'cursor', description: 'The next page, from the previous one' },
};

/** A list as a table (and a hint for the next page), or with --json the page as the API gave it. */
export function printPage<T>(context: CommandContext, page: Page<T>, columns: Column<T>[]): void {
  if (context.json) {
    context.io.out(`${JSON.stringify(page)}\n`);
    return;
  }
  if (page.data.length === 0) {
    context.io.out(`${context.style.dim('(none)')}\n`);
    return;
  }
  context.io.out(`${renderTable(page.data, columns, context.style)}\n`);
  if (page.next_cursor !== null) context.io.out(`${context.style.dim(`more: --cursor ${page.next_cursor}`)}\n`);
}
