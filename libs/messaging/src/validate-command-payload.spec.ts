import { describe, expect, it } from '@jest/globals';
import {
  AppendLogLines,
  AppendLogLinesPayload,
  CreateSession,
  CreateSessionPayload,
  defineCommand,
  DomainError,
  ErrorCode,
  LOG_BATCH_MAX_BYTES,
  LOG_BATCH_MAX_LINES,
  LOG_LINE_LEVELS,
  LOG_LINE_STREAMS,
} from '@runyard/contracts';
import fc from 'fast-check';
import { validateCommandPayload, validatePayload } from './validate-payload.js';

// AppendLogLines is validated by hand (append-log-lines.validator.ts in contracts): these tests hold it
// to what validatePayload says of its payload class — accepted or refused alike, with the same errors.

type Outcome = { ok: true; value: unknown } | { ok: false; code: string; message: string; errors: unknown };

async function outcomeOf(promise: Promise<unknown>): Promise<Outcome> {
  try {
    return { ok: true, value: JSON.parse(JSON.stringify(await promise)) as unknown };
  } catch (error) {
    if (!(error instanceof DomainError)) throw error;
    return { ok: false, code: error.code, message: error.message, errors: error.details?.errors };
  }
}

/** The hand-written validator's outcome, after checking that the payload class agrees with it. */
async function agreed(plain: unknown): Promise<Outcome> {
  const fast = await outcomeOf(validateCommandPayload(AppendLogLines, plain));
  expect(fast).toEqual(await outcomeOf(validatePayload(AppendLogLinesPayload, plain)));
  return fast;
}

function firstField(outcome: Outcome): string | undefined {
  if (outcome.ok) return undefined;
  expect(outcome.code).toBe(ErrorCode.VALIDATION_FAILED);
  return (outcome.errors as { field: string }[])[0]?.field;
}

/** As it comes off the wire. */
const wire = (value: unknown): unknown => JSON.parse(JSON.stringify(value)) as unknown;

const TENANT = '0190a5f1-0000-7000-8000-000000000001';
const RUN = '0190a5f1-0000-7000-8000-000000000002';
const line = { stream: 'stdout', text: 'hello' };
const batch = (fields: Record<string, unknown> = {}): Record<string, unknown> => ({ tenant_id: TENANT, run_id: RUN, lines: [line], ...fields });
const withLine = (fields: Record<string, unknown>, at = 0): Record<string, unknown> =>
  batch({ lines: [...Array.from({ length: at }, () => line), { ...line, ...fields }] });
const producer = { id: 'worker-1', batch_seq: 7 };
/** Longer in UTF-16 units than the limit, within it in characters (class-validator counts characters). */
const emojiText = '😀'.repeat(LOG_BATCH_MAX_BYTES / 2 + 1);

describe('validateCommandPayload', () => {
  it("uses the command's own validator when it has one", async () => {
    const given = { anything: true };
    const Probe = defineCommand<void>()('test.cmd.probe.check.v1', CreateSessionPayload, { validate: (plain) => plain as CreateSessionPayload });

    expect(await validateCommandPayload(Probe, given)).toBe(given);
  });

  it("rejects (never throws) with the validator's error", async () => {
    const error = new DomainError(ErrorCode.VALIDATION_FAILED, 'Invalid payload: no');
    const Probe = defineCommand<void>()('test.cmd.probe.check.v1', CreateSessionPayload, {
      validate: () => {
        throw error;
      },
    });

    const pending = validateCommandPayload(Probe, {});
    await expect(pending).rejects.toBe(error);
  });

  it('validates with the payload class otherwise', async () => {
    const scope = { tenant_id: TENANT, principal_id: RUN, role: 'member' };
    expect(await validateCommandPayload(CreateSession, { scope, body: { title: 'Report' } })).toBeInstanceOf(CreateSessionPayload);
    expect(firstField(await outcomeOf(validateCommandPayload(CreateSession, { scope, body: { title: 7 } })))).toBe('body.title');
  });
});

describe('AppendLogLines validation', () => {
  it.each<[string, unknown]>([
    ['a minimal batch', batch()],
    ['a producer', batch({ producer })],
    ['the widest producer', batch({ producer: { id: `a${'.:/@_-'.repeat(33)}b`, batch_seq: Number.MAX_SAFE_INTEGER } })],
    ['batch_seq 0', batch({ producer: { id: 'p', batch_seq: 0 } })],
    ['every stream and level', batch({ lines: LOG_LINE_STREAMS.flatMap((stream) => LOG_LINE_LEVELS.map((level) => ({ stream, level, text: '' }))) })],
    ['RFC 3339 times', batch({ lines: ['2026-11-21T04:44:19.123Z', '2026-11-21T04:44:19Z', '2026-11-21T04:44:19+05:30', '2024-02-29T23:59:59.999999-08:00'].map((time) => ({ ...line, time })) })],
    // Strict ISO 8601 in class-validator's reading, not RFC 3339: accepted as before.
    ['other ISO 8601 forms', batch({ lines: ['2026-11-21', '2026-W47-5', '2026-325', '20261121T044419Z', '2026-11-21 04:44:19z', '2026-11-21T24:00Z'].map((time) => ({ ...line, time })) })],
    ['nil, max and upper-case UUIDs', batch({ tenant_id: '00000000-0000-0000-0000-000000000000', run_id: 'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF' })],
    ['text of the longest length', withLine({ text: 'a'.repeat(LOG_BATCH_MAX_BYTES) })],
    ['text longer in UTF-16 units only', withLine({ text: emojiText })],
    ['the most lines', batch({ lines: Array.from({ length: LOG_BATCH_MAX_LINES }, () => line) })],
  ])('accepts %s, as given', async (_name, plain) => {
    const outcome = await agreed(plain);
    expect(outcome).toEqual({ ok: true, value: plain });
  });

  it.each<[string, unknown, string]>([
    ['null', null, ''],
    ['a string', 'batch', ''],
    ['an array', [batch()], ''],
    ['an empty object', {}, 'tenant_id'],
    ['an unknown field', batch({ admin: true }), 'admin'],
    ['a tenant_id of the wrong type', batch({ tenant_id: 42 }), 'tenant_id'],
    ['a UUID of no version', batch({ tenant_id: '0190a5f1-0000-9000-8000-000000000001' }), 'tenant_id'],
    ['a run_id without dashes', batch({ run_id: RUN.replaceAll('-', '') }), 'run_id'],
    ['a null producer', batch({ producer: null }), 'producer'],
    ['a producer string', batch({ producer: 'worker-1' }), 'producer'],
    ['an empty producer', batch({ producer: {} }), 'producer.id'],
    ['an unknown producer field', batch({ producer: { ...producer, epoch: 1 } }), 'producer.epoch'],
    ['an empty producer id', batch({ producer: { ...producer, id: '' } }), 'producer.id'],
    ['a producer id starting with a dash', batch({ producer: { ...producer, id: '-w' } }), 'producer.id'],
    ['a producer id with a space', batch({ producer: { ...producer, id: 'w 1' } }), 'producer.id'],
    ['a producer id too long', batch({ producer: { ...producer, id: 'w'.repeat(201) } }), 'producer.id'],
    ['a numeric producer id', batch({ producer: { ...producer, id: 7 } }), 'producer.id'],
    ['a negative batch_seq', batch({ producer: { ...producer, batch_seq: -1 } }), 'producer.batch_seq'],
    ['a fractional batch_seq', batch({ producer: { ...producer, batch_seq: 1.5 } }), 'producer.batch_seq'],
    ['a batch_seq string', batch({ producer: { ...producer, batch_seq: '1' } }), 'producer.batch_seq'],
    ['an unsafe batch_seq', batch({ producer: { ...producer, batch_seq: Number.MAX_SAFE_INTEGER + 1 } }), 'producer.batch_seq'],
    ['a null batch_seq', batch({ producer: { ...producer, batch_seq: null } }), 'producer.batch_seq'],
    ['no lines', { tenant_id: TENANT, run_id: RUN }, 'lines'],
    ['null lines', batch({ lines: null }), 'lines'],
    ['empty lines', batch({ lines: [] }), 'lines'],
    ['too many lines', batch({ lines: Array.from({ length: LOG_BATCH_MAX_LINES + 1 }, () => line) }), 'lines'],
    ['lines as a string', batch({ lines: 'hello' }), 'lines'],
    ['lines as one object', batch({ lines: line }), 'lines'],
    ['a line that is a number', batch({ lines: [line, 5] }), 'lines.1'],
    ['a null line', batch({ lines: [null] }), 'lines.0'],
    ['an empty line', batch({ lines: [{}] }), 'lines.0.stream'],
    ['an unknown line field', withLine({ seq: 1 }, 2), 'lines.2.seq'],
    ['no stream', batch({ lines: [{ text: 'x' }] }), 'lines.0.stream'],
    ['an unknown stream', withLine({ stream: 'STDOUT' }, 3), 'lines.3.stream'],
    ['a null level', withLine({ level: null }), 'lines.0.level'],
    ['an unknown level', withLine({ level: 'fatal' }), 'lines.0.level'],
    ['a null time', withLine({ time: null }), 'lines.0.time'],
    ['a numeric time', withLine({ time: Date.now() }), 'lines.0.time'],
    ['a time in words', withLine({ time: 'yesterday' }), 'lines.0.time'],
    ['a day that does not exist', withLine({ time: '2026-02-29T00:00:00Z' }), 'lines.0.time'],
    ['day 31 of a 30-day month', withLine({ time: '2026-04-31T10:00:00Z' }), 'lines.0.time'],
    ['second 60', withLine({ time: '2026-11-21T04:44:60Z' }), 'lines.0.time'],
    ['an hour out of range', withLine({ time: '2026-11-21T25:00:00Z' }), 'lines.0.time'],
    ['an offset out of range', withLine({ time: '2026-11-21T04:44:19+24:00' }), 'lines.0.time'],
    ['no text', batch({ lines: [{ stream: 'stdout' }] }), 'lines.0.text'],
    ['a numeric text', withLine({ text: 5 }), 'lines.0.text'],
    ['a text too long', withLine({ text: 'a'.repeat(LOG_BATCH_MAX_BYTES + 1) }), 'lines.0.text'],
    ['many problems at once', { admin: 1, tenant_id: 'x', lines: [{ stream: 'x', level: 'x', time: 'x', text: 1, extra: 1 }, 7] }, 'admin'],
  ])('refuses %s, at the same first field', async (_name, plain, field) => {
    expect(firstField(await agreed(plain))).toBe(field);
  });

  it('summarises the first three problems in the message', async () => {
    const outcome = await agreed(batch({ lines: [{ stream: 'x', text: 1 }, { stream: 'y', text: 'ok' }] }));

    expect(outcome.ok ? undefined : outcome.message).toBe(
      'Invalid payload: lines.0.stream: stream must be one of the following values: stdout, stderr, agent, system; lines.0.text: text must be shorter than or equal to 524288 characters; lines.0.text: text must be a string (and 1 more)',
    );
  });

  // class-validator lets these through, and the service would then fail on them (an array has no
  // `text`, a producer array no `id`), or silently drops the field (class-transformer skips keys
  // named after Object.prototype members): the hand-written validator refuses them.
  it.each<[string, unknown, string]>([
    ['an array as producer', batch({ producer: [producer] }), 'producer'],
    ['a line that is an array', batch({ lines: [[line]] }), 'lines.0'],
    ['an empty array as a line', batch({ lines: [line, []] }), 'lines.1'],
    ['a line field named constructor', withLine({ constructor: 'x' }), 'lines.0.constructor'],
    ['a line field named hasOwnProperty', withLine({ hasOwnProperty: 1 }), 'lines.0.hasOwnProperty'],
    ['a payload field named __proto__', JSON.parse(`{"__proto__":{"x":1},"tenant_id":"${TENANT}","run_id":"${RUN}","lines":[{"stream":"stdout","text":"x"}]}`), '__proto__'],
  ])('refuses %s, unlike the payload class', async (_name, plain, field) => {
    expect(firstField(await outcomeOf(validateCommandPayload(AppendLogLines, plain)))).toBe(field);
  });

  describe('on generated payloads', () => {
    const uuid = fc.oneof(fc.uuid({ version: [1, 4, 7, 8, 9, 15] }), fc.constantFrom(TENANT.toUpperCase(), '00000000-0000-0000-0000-000000000000', RUN.slice(1)), fc.string({ maxLength: 4 }));
    const pad = (value: number, width: number): string => String(value).padStart(width, '0');
    const builtTime = fc
      .record({
        year: fc.integer({ min: 0, max: 9999 }),
        month: fc.integer({ min: 0, max: 13 }),
        day: fc.integer({ min: 0, max: 32 }),
        hour: fc.integer({ min: 0, max: 25 }),
        minute: fc.integer({ min: 0, max: 60 }),
        second: fc.integer({ min: 0, max: 61 }),
        fraction: fc.constantFrom('', '.1', '.123', '.123456789', ',5', '.'),
        separator: fc.constantFrom('T', 'T', 't', ' '),
        zone: fc.constantFrom('Z', 'Z', 'z', '', '+05:30', '-08:00', '+0530', '-23:59', '+24:00', '+05:60', '+05'),
      })
      .map((t) => `${pad(t.year, 4)}-${pad(t.month, 2)}-${pad(t.day, 2)}${t.separator}${pad(t.hour, 2)}:${pad(t.minute, 2)}:${pad(t.second, 2)}${t.fraction}${t.zone}`);
    const time = fc.oneof(
      builtTime,
      fc.date({ noInvalidDate: true, min: new Date('0000-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59Z') }).map((d) => d.toISOString()),
      fc.string({ maxLength: 25 }),
    );
    const text = fc.oneof({ weight: 8, arbitrary: fc.string({ maxLength: 40 }) }, fc.constantFrom('a'.repeat(LOG_BATCH_MAX_BYTES + 1), emojiText), fc.integer());
    const lineArb = fc.record(
      {
        stream: fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...LOG_LINE_STREAMS) }, fc.constantFrom('STDOUT', '', null)),
        level: fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...LOG_LINE_LEVELS) }, fc.constantFrom('fatal', null, 1)),
        time,
        text,
      },
      { requiredKeys: ['stream', 'text'] },
    );
    const producerArb = fc.record({
      id: fc.oneof(fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,12}$/), fc.string({ maxLength: 4 }), fc.constantFrom('w'.repeat(200), 'w'.repeat(201))),
      batch_seq: fc.oneof(fc.nat(), fc.integer(), fc.double(), fc.constantFrom(Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER + 1, '3')),
    });
    const payloadArb = fc.record(
      { tenant_id: uuid, run_id: uuid, producer: producerArb, lines: fc.array(lineArb, { maxLength: 4 }) },
      { requiredKeys: ['tenant_id', 'run_id', 'lines'] },
    );

    /** A change at some depth: a field set to any JSON value, removed, or an unknown one added. */
    const mutation = fc.record({
      where: fc.constantFrom('payload', 'producer', 'line', 'lines'),
      kind: fc.constantFrom('set', 'delete', 'add'),
      key: fc.oneof(fc.constantFrom('tenant_id', 'run_id', 'producer', 'lines', 'id', 'batch_seq', 'stream', 'level', 'time', 'text'), fc.string({ maxLength: 6 })),
      at: fc.nat(),
      value: fc.jsonValue({ maxDepth: 2 }),
    });
    type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;

    function mutate(payload: Record<string, unknown>, change: Mutation): void {
      let target: unknown = payload;
      if (change.where === 'producer') target = payload.producer;
      if (change.where === 'lines') target = payload.lines;
      if (change.where === 'line') target = Array.isArray(payload.lines) && payload.lines.length > 0 ? (payload.lines[change.at % payload.lines.length] as unknown) : undefined;
      if (target === null || typeof target !== 'object') return;
      const fields = target as Record<string, unknown>;
      if (change.where === 'lines' && Array.isArray(fields)) {
        const index = fields.length === 0 ? 0 : change.at % (fields.length + 1);
        if (change.kind === 'delete') fields.splice(index, 1);
        else fields[index] = change.value;
      } else if (change.kind === 'delete') delete fields[change.key];
      else fields[change.kind === 'add' ? `${change.key}_x` : change.key] = change.value;
    }

    /** Where class-validator is knowingly less strict (see above): only the refusal is checked. */
    function beyondTheClass(payload: unknown): boolean {
      if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) return false;
      const { producer: p, lines } = payload as Record<string, unknown>;
      const objects = [payload, p, lines, ...(Array.isArray(lines) ? (lines as unknown[]) : [])];
      return (
        Array.isArray(p) ||
        (Array.isArray(lines) && lines.some((entry) => Array.isArray(entry))) ||
        objects.some((value) => value !== null && typeof value === 'object' && Object.keys(value).some((key) => key in Object.prototype))
      );
    }

    it('accept and refuse alike, with the same errors', async () => {
      await fc.assert(
        fc.asyncProperty(payloadArb, fc.array(mutation, { maxLength: 3 }), async (generated, changes) => {
          const payload = wire(generated) as Record<string, unknown>;
          for (const change of changes) mutate(payload, change);
          const plain = wire(payload);
          if (beyondTheClass(plain)) expect((await outcomeOf(validateCommandPayload(AppendLogLines, plain))).ok).toBe(false);
          else await agreed(plain);
        }),
        { numRuns: 1000 },
      );
    });

    it('read times as strict ISO 8601 does', async () => {
      await fc.assert(
        fc.asyncProperty(time, async (value) => {
          await agreed(withLine({ time: value }));
        }),
        { numRuns: 2000 },
      );
    });
  });
});
