import type { Env } from './config.js';

/** ANSI styles, or none: colour only on a terminal and only when NO_COLOR is unset (no-color.org). */
export interface Style {
  bold(text: string): string;
  dim(text: string): string;
  red(text: string): string;
  green(text: string): string;
  yellow(text: string): string;
  cyan(text: string): string;
}

export function useColour(stream: { isTTY?: boolean }, env: Env): boolean {
  return stream.isTTY === true && (env.NO_COLOR === undefined || env.NO_COLOR === '') && env.TERM !== 'dumb';
}

export function createStyle(colour: boolean): Style {
  const paint = (open: number, close: number) => (text: string) => (colour ? `\x1b[${open}m${text}\x1b[${close}m` : text);
  return { bold: paint(1, 22), dim: paint(2, 22), red: paint(31, 39), green: paint(32, 39), yellow: paint(33, 39), cyan: paint(36, 39) };
}

/** A status word in the colour people expect: green done, red failed, yellow waiting. */
export function paintStatus(style: Style, status: string): string {
  switch (status) {
    case 'completed':
    case 'answered':
    case 'active':
      return style.green(status);
    case 'failed':
      return style.red(status);
    case 'waiting_for_approval':
    case 'waiting_for_input':
    case 'open':
    case 'cancelling':
      return style.yellow(status);
    case 'cancelled':
    case 'expired':
    case 'archived':
      return style.dim(status);
    default:
      return status;
  }
}

export interface Column<T> {
  header: string;
  value(row: T): string | number | null | undefined;
  /** Colour applied after padding is measured. */
  paint?(text: string): string;
  /** Longer values are cut with `…`. */
  max?: number;
}

/** A plain aligned table: header, then one line per row; widths from the longest cell. */
export function renderTable<T>(rows: readonly T[], columns: readonly Column<T>[], style: Style): string {
  const cells = rows.map((row) => columns.map((column) => cell(column.value(row), column.max)));
  const widths = columns.map((column, index) => Math.max(column.header.length, ...cells.map((row) => row[index].length)));
  // Painted before padding, so escape codes never count towards a column's width.
  const line = (values: string[], paint: (text: string, index: number) => string): string =>
    values
      .map((value, index) => paint(value, index) + (index === values.length - 1 ? '' : ' '.repeat(widths[index] - value.length)))
      .join('  ');
  const header = line(
    columns.map((column) => column.header),
    (text) => style.bold(text),
  );
  const body = cells.map((row) => line(row, (text, index) => columns[index].paint?.(text) ?? text));
  return [header, ...body].join('\n');
}

/** Key/value lines for one resource (`runs show`). */
export function renderFields(fields: [string, string | number | null | undefined][], style: Style): string {
  const width = Math.max(...fields.map(([name]) => name.length));
  return fields
    .filter(([, value]) => value !== undefined)
    .map(([name, value]) => `${style.bold(name.padEnd(width))}  ${value === null ? style.dim('-') : String(value)}`)
    .join('\n');
}

function cell(value: string | number | null | undefined, max = 60): string {
  if (value === null || value === undefined || value === '') return '-';
  const text = String(value).replace(/\s+/g, ' ');
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** `2025-11-21T02:07:01.123Z` → `2025-11-21 02:07:01` (UTC, as the API gives it). */
export function shortTime(value: string | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  return value.replace('T', ' ').replace(/\.\d+Z$|Z$/, '');
}
