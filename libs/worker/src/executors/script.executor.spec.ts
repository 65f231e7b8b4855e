import { describe, expect, it } from '@jest/globals';
import { inputText } from './echo.executor.js';
import { parseScenario } from './script.executor.js';

describe('parseScenario', () => {
  it('reads every kind of item, with defaults', () => {
    const scenario = parseScenario(
      JSON.stringify({
        steps: [
          { step: 'plan', title: 'Make a plan', delay_ms: 50 },
          { step: 'check', evidence: 'ok', status: 'skipped' },
          { delay_ms: 10 },
          { progress: 'half way', data: { pct: 50 } },
          { approval: 'deploy', prompt: 'Deploy to prod?', details: { env: 'prod' }, timeout_seconds: 60 },
          { approval: 'notify', prompt: 'Notify?', on_deny: 'continue' },
          { input: 'branch', prompt: 'Which branch?', schema: { type: 'object' } },
          { message: 'done' },
          { message: 'again', key: 'final' },
          { fail: 'boom' },
        ],
        output: { ok: true },
      }),
    );
    expect(scenario).toEqual({
      steps: [
        { kind: 'step', key: 'plan', title: 'Make a plan', delayMs: 50, status: 'completed' },
        { kind: 'step', key: 'check', title: 'check', delayMs: 0, status: 'skipped', evidence: 'ok' },
        { kind: 'delay', delayMs: 10 },
        { kind: 'progress', message: 'half way', data: { pct: 50 } },
        { kind: 'approval', key: 'deploy', prompt: 'Deploy to prod?', details: { env: 'prod' }, timeoutSeconds: 60, onDeny: 'fail' },
        { kind: 'approval', key: 'notify', prompt: 'Notify?', details: undefined, timeoutSeconds: undefined, onDeny: 'continue' },
        { kind: 'input', key: 'branch', prompt: 'Which branch?', schema: { type: 'object' }, timeoutSeconds: undefined },
        { kind: 'message', key: 'message-7', content: 'done' },
        { kind: 'message', key: 'final', content: 'again' },
        { kind: 'fail', message: 'boom' },
      ],
      output: { ok: true },
    });
  });

  it.each([
    ['not json', /must be a JSON scenario/],
    ['[]', /must be a JSON object/],
    ['{"steps": {}}', /"steps" must be an array/],
    ['{"steps": [], "extra": 1}', /unknown field extra/],
    ['{"steps": [], "output": [1]}', /"output" must be an object/],
    ['{"steps": [1]}', /steps\[0\] must be an object/],
    ['{"steps": [{"step": "a", "fail": "b"}]}', /steps\[0\] has more than one of/],
    ['{"steps": [{"step": "a", "colour": "red"}]}', /steps\[0\]: unknown field colour for a step item/],
    ['{"steps": [{"step": "has space"}]}', /steps\[0\]\.step must be a key/],
    ['{"steps": [{"step": "a", "status": "done"}]}', /steps\[0\]\.status must be one of/],
    ['{"steps": [{}]}', /steps\[0\]\.delay_ms must be an integer/],
    ['{"steps": [{"delay_ms": -1}]}', /steps\[0\]\.delay_ms must be an integer/],
    ['{"steps": [{"approval": "a"}]}', /steps\[0\]\.prompt must be a non-empty string/],
    ['{"steps": [{"approval": "a", "prompt": "p", "on_deny": "ignore"}]}', /on_deny must be "fail" or "continue"/],
    ['{"steps": [{"input": "a", "prompt": "p", "timeout_seconds": 0}]}', /timeout_seconds must be a positive integer/],
    ['{"steps": [{"progress": "p", "data": "x"}]}', /data must be an object/],
    ['{"steps": [{"delay_ms": 600001}]}', /steps\[0\]\.delay_ms must be an integer from 0 to 600000/],
  ])('refuses %s, saying why', (text, message) => {
    expect(() => parseScenario(text)).toThrow(message);
  });

  it('holds a worker slot for a bounded time: at most 100 items, whose delays add up to at most 10 minutes', () => {
    const items = (count: number, item: object): string => JSON.stringify({ steps: Array.from({ length: count }, () => item) });
    expect(parseScenario(items(100, { progress: 'tick' })).steps).toHaveLength(100);
    expect(() => parseScenario(items(101, { progress: 'tick' }))).toThrow('script: "steps" may hold at most 100 items (this one holds 101)');

    // Delays of steps count as well as plain delays; exactly 10 minutes is allowed.
    expect(parseScenario(items(100, { delay_ms: 6000 })).steps).toHaveLength(100);
    expect(parseScenario(JSON.stringify({ steps: [{ delay_ms: 300_000 }, { step: 'a', delay_ms: 300_000 }] })).steps).toHaveLength(2);
    expect(() => parseScenario(JSON.stringify({ steps: [{ delay_ms: 300_000 }, { step: 'a', delay_ms: 300_001 }] }))).toThrow(
      'script: the delays of a scenario must add up to at most 600000 ms (10 minutes); these add up to 600001 ms',
    );
    expect(() => parseScenario(items(25, { delay_ms: 24_001 }))).toThrow(/these add up to 600025 ms/);
  });
});

describe('inputText', () => {
  it('is the input, else the text of the input items, else a note', () => {
    expect(inputText({ input: 'hi', input_items: null })).toBe('hi');
    expect(inputText({ input: null, input_items: [{ type: 'text', text: 'a' }, { type: 'file', file_id: 'f1' }, { type: 'text', text: 'b' }] })).toBe('a\nb');
    expect(inputText({ input: null, input_items: [{ type: 'file', file_id: 'f1' }] })).toBe('(received 1 item without text)');
    expect(inputText({ input: null, input_items: null })).toBe('(no input)');
  });
});
