import { describe, expect, it } from '@jest/globals';
import { DomainError, ErrorCode } from '@runyard/contracts';
import { normaliseMessageContent } from './message-content.js';

describe('normaliseMessageContent', () => {
  it('turns plain content into one text item', () => {
    expect(normaliseMessageContent({ content: 'hello' })).toEqual({ content: 'hello', inputItems: [{ type: 'text', text: 'hello' }] });
  });

  it('joins the text parts of input items with a blank line, skipping files', () => {
    const normalised = normaliseMessageContent({
      input_items: [
        { type: 'text', text: 'first' },
        { type: 'file', file_id: 'file_1', name: 'report.pdf', mime_type: 'application/pdf' },
        { type: 'text', text: 'second' },
      ],
    });
    expect(normalised.content).toBe('first\n\nsecond');
    expect(normalised.inputItems).toEqual([
      { type: 'text', text: 'first' },
      { type: 'file', file_id: 'file_1', name: 'report.pdf', mime_type: 'application/pdf' },
      { type: 'text', text: 'second' },
    ]);
  });

  it('gives null content when no item is text', () => {
    expect(normaliseMessageContent({ input_items: [{ type: 'file', url: 'https://files.example/a.png' }] })).toEqual({
      content: null,
      inputItems: [{ type: 'file', url: 'https://files.example/a.png' }],
    });
  });

  it('stores only the fields of the item type, as plain JSON', () => {
    const [item] = normaliseMessageContent({ input_items: [{ type: 'text', text: 'hi', file_id: 'stray', url: undefined }] }).inputItems;
    expect(item).toStrictEqual({ type: 'text', text: 'hi' });
  });

  it('refuses both shapes at once and neither', () => {
    for (const body of [{ content: 'a', input_items: [{ type: 'text' as const, text: 'b' }] }, {}]) {
      let caught: unknown;
      try {
        normaliseMessageContent(body);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(DomainError);
      expect((caught as DomainError).code).toBe(ErrorCode.VALIDATION_FAILED);
    }
  });
});
