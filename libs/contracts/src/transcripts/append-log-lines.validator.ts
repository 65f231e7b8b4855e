import { isInt, isISO8601, isUUID, matches, max, maxLength, min, minLength } from 'class-validator';
import { invalidPayload } from '../common/define.js';
import type { FieldError } from '../common/errors.js';
import type { AppendLogLinesPayload } from './commands.js';
import { LINE_TEXT_MAX_CHARS, LOG_BATCH_MAX_LINES, LOG_LINE_LEVELS, LOG_LINE_STREAMS, PRODUCER_ID, PRODUCER_ID_MAX_CHARS } from './log-line.dto.js';

/*
 * The AppendLogLines payload checked by hand: class-validator costs ~10 µs per line, over half of the
 * transcripts service's CPU when ingesting logs; this, under 0.1 µs. The rules are those of
 * AppendLogLinesPayload (commands.ts, log-line.dto.ts), and so are the errors: the same fields, in the
 * same order, with the same messages as validatePayload reports (libs/messaging's
 * validate-command-payload.spec.ts holds the two together). A valid line costs a key scan and a few
 * comparisons; class-validator's own predicates run only where the quick checks fail. Stricter than
 * the class where class-validator slips: an array as `producer` or as a line (the service would fail
 * on it), and fields named after Object.prototype members (`constructor`, `__proto__`…), which
 * class-transformer drops unchecked instead of refusing.
 */

const STREAMS: ReadonlySet<unknown> = new Set(LOG_LINE_STREAMS);
const LEVELS: ReadonlySet<unknown> = new Set(LOG_LINE_LEVELS);
const STREAM_MESSAGE = `stream must be one of the following values: ${LOG_LINE_STREAMS.join(', ')}`;
const LEVEL_MESSAGE = `level must be one of the following values: ${LOG_LINE_LEVELS.join(', ')}`;
const LINE_MESSAGE = 'each value in nested property lines must be either object or array';

/** Validates an AppendLogLines payload; returns it as given, or throws invalidPayload(errors). */
export function validateAppendLogLines(plain: unknown): AppendLogLinesPayload {
  if (plain === null || typeof plain !== 'object' || Array.isArray(plain)) {
    throw invalidPayload([{ field: '', message: 'payload must be a JSON object' }]);
  }
  const payload = plain as Record<string, unknown>;
  const errors: FieldError[] = [];
  for (const key in payload) {
    if (key !== 'tenant_id' && key !== 'run_id' && key !== 'producer' && key !== 'lines') errors.push(unknownProperty('', key));
  }
  if (!isUUID(payload.tenant_id)) errors.push({ field: 'tenant_id', message: 'tenant_id must be a UUID' });
  if (!isUUID(payload.run_id)) errors.push({ field: 'run_id', message: 'run_id must be a UUID' });
  checkProducer(payload.producer, errors);
  checkLines(payload.lines, errors);
  if (errors.length > 0) throw invalidPayload(errors);
  return plain as AppendLogLinesPayload;
}

function checkProducer(producer: unknown, errors: FieldError[]): void {
  if (producer === undefined) return;
  if (producer === null || typeof producer !== 'object') {
    errors.push({ field: 'producer', message: 'nested property producer must be either object or array' });
    return;
  }
  if (Array.isArray(producer)) {
    errors.push({ field: 'producer', message: 'nested property producer must be an object' });
    return;
  }
  const fields = producer as Record<string, unknown>;
  for (const key in fields) {
    if (key !== 'id' && key !== 'batch_seq') errors.push(unknownProperty('producer', key));
  }
  // Once per batch: class-validator's own predicates, in its order (its decorators, bottom up).
  const { id, batch_seq: batchSeq } = fields;
  if (!matches(id as string, PRODUCER_ID)) errors.push({ field: 'producer.id', message: `id must match ${String(PRODUCER_ID)} regular expression` });
  if (!maxLength(id, PRODUCER_ID_MAX_CHARS)) errors.push({ field: 'producer.id', message: `id must be shorter than or equal to ${PRODUCER_ID_MAX_CHARS} characters` });
  if (!minLength(id, 1)) errors.push({ field: 'producer.id', message: 'id must be longer than or equal to 1 characters' });
  if (typeof id !== 'string') errors.push({ field: 'producer.id', message: 'id must be a string' });
  if (!max(batchSeq, Number.MAX_SAFE_INTEGER)) errors.push({ field: 'producer.batch_seq', message: `batch_seq must not be greater than ${Number.MAX_SAFE_INTEGER}` });
  if (!min(batchSeq, 0)) errors.push({ field: 'producer.batch_seq', message: 'batch_seq must not be less than 0' });
  if (!isInt(batchSeq)) errors.push({ field: 'producer.batch_seq', message: 'batch_seq must be an integer number' });
}

function checkLines(lines: unknown, errors: FieldError[]): void {
  if (Array.isArray(lines)) {
    if (lines.length === 0) errors.push({ field: 'lines', message: 'lines must contain at least 1 elements' });
    if (lines.length > LOG_BATCH_MAX_LINES) errors.push({ field: 'lines', message: `lines must contain no more than ${LOG_BATCH_MAX_LINES} elements` });
    for (let index = 0; index < lines.length; index++) checkLine(lines[index], index, errors);
    return;
  }
  if (lines === undefined || lines === null) errors.push({ field: 'lines', message: 'lines should not be null or undefined' });
  errors.push(
    { field: 'lines', message: `lines must contain no more than ${LOG_BATCH_MAX_LINES} elements` },
    { field: 'lines', message: 'lines must contain at least 1 elements' },
    { field: 'lines', message: 'lines must be an array' },
  );
  // class-validator still validates a lone object as a line (class-transformer made it one).
  if (lines === undefined) return;
  if (lines !== null && typeof lines === 'object') checkLineFields(lines as Record<string, unknown>, 'lines', errors);
  else errors.push({ field: 'lines', message: LINE_MESSAGE });
}

function checkLine(line: unknown, index: number, errors: FieldError[]): void {
  if (line === null || typeof line !== 'object') errors.push({ field: `lines.${index}`, message: LINE_MESSAGE });
  else if (Array.isArray(line)) errors.push({ field: `lines.${index}`, message: 'each value in nested property lines must be an object' });
  else checkLineFields(line as Record<string, unknown>, `lines.${index}`, errors);
}

/** The hot path: once per line. */
function checkLineFields(line: Record<string, unknown>, path: string, errors: FieldError[]): void {
  for (const key in line) {
    if (key !== 'stream' && key !== 'text' && key !== 'level' && key !== 'time') errors.push(unknownProperty(path, key));
  }
  const { stream, level, time, text } = line;
  if (!STREAMS.has(stream)) errors.push({ field: `${path}.stream`, message: STREAM_MESSAGE });
  if (level !== undefined && !LEVELS.has(level)) errors.push({ field: `${path}.level`, message: LEVEL_MESSAGE });
  if (time !== undefined && !isStrictIso8601(time)) errors.push({ field: `${path}.time`, message: 'time must be a valid ISO 8601 date string' });
  if (typeof text !== 'string') {
    errors.push({ field: `${path}.text`, message: `text must be shorter than or equal to ${LINE_TEXT_MAX_CHARS} characters` }, { field: `${path}.text`, message: 'text must be a string' });
  } else if (text.length > LINE_TEXT_MAX_CHARS && !maxLength(text, LINE_TEXT_MAX_CHARS)) {
    // Past the limit in UTF-16 units, the text may still be within it in characters (class-validator counts those).
    errors.push({ field: `${path}.text`, message: `text must be shorter than or equal to ${LINE_TEXT_MAX_CHARS} characters` });
  }
}

function unknownProperty(path: string, key: string): FieldError {
  // An empty key adds nothing to the path, as in validatePayload.
  return { field: key === '' ? path : path === '' ? key : `${path}.${key}`, message: `property ${key} should not exist` };
}

/**
 * What producers send: an RFC 3339 date-time (`2026-11-21T04:44:19.123Z`, `…+05:30`). Every string it
 * accepts, `IsISO8601({ strict: true })` accepts too; any other string gets class-validator's answer,
 * so the two never disagree.
 */
const RFC3339_DATE_TIME = /^[1-9]\d{3}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d+)?(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)$/;

function isStrictIso8601(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  if (RFC3339_DATE_TIME.test(value) && isCalendarDay(value)) return true;
  return isISO8601(value, { strict: true });
}

/** The day of `YYYY-MM-DD…` exists (strict ISO 8601 refuses 2026-02-30). */
function isCalendarDay(value: string): boolean {
  const digit = (at: number): number => value.charCodeAt(at) - 48;
  const year = digit(0) * 1000 + digit(1) * 100 + digit(2) * 10 + digit(3);
  const month = digit(5) * 10 + digit(6);
  const day = digit(8) * 10 + digit(9);
  if (day <= 28) return true;
  if (month === 2) return day === 29 && year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return day <= (month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31);
}
