import { describe, expect, it } from '@jest/globals';
import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { CreateRunBody, RUN_INPUT_MAX_BYTES } from './run.dto.js';

function problems(body: object): string[] {
  return validateSync(plainToInstance(CreateRunBody, body), { whitelist: true, forbidNonWhitelisted: true }).map((error) => error.property);
}

describe('CreateRunBody', () => {
  it('accepts input within the bound', () => {
    expect(problems({ input_items: [{ type: 'text', text: 'hello' }] })).toEqual([]);
  });

  it('bounds the input as a whole, so every event of the run stays publishable', () => {
    const item = { type: 'text', text: 'y'.repeat(99_000) };
    const items = Array.from({ length: Math.ceil(RUN_INPUT_MAX_BYTES / 99_000) + 1 }, () => item);
    expect(problems({ input_items: items })).toEqual(['input_items']);
  });

  it('refuses null where null has no meaning', () => {
    for (const field of ['ttl_seconds', 'input_items', 'parent_run_id', 'max_attempts', 'metadata', 'route']) {
      expect(problems({ input: 'x', [field]: null })).toContain(field);
    }
  });
});
