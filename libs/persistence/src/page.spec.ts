import { describe, expect, it } from '@jest/globals';
import { DEFAULT_PAGE_LIMIT } from '@runyard/contracts';
import { rowsToFetch, toPage } from './page.js';

describe('keyset pages', () => {
  it('fetches one row more than the limit (default limit when none is given)', () => {
    expect(rowsToFetch(10)).toBe(11);
    expect(rowsToFetch(undefined)).toBe(DEFAULT_PAGE_LIMIT + 1);
  });

  it('points next_cursor at the last row kept when another page follows', () => {
    expect(toPage([1, 2, 3], 2, (n) => n * 10, String)).toEqual({ data: [10, 20], next_cursor: '2' });
  });

  it('has a null next_cursor on the last page', () => {
    expect(toPage([1, 2], 2, (n) => n * 10, String)).toEqual({ data: [10, 20], next_cursor: null });
    expect(toPage([], 2, (n: number) => n, String)).toEqual({ data: [], next_cursor: null });
  });
});
