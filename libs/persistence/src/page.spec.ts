import { describe, expect, it } from '@jest/globals';
import { DEFAULT_PAGE_LIMIT } from '@runyard/contracts';
import { PAGE_MAX_BYTES, rowsToFetch, toPage } from './page.js';

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

  it('cuts a page short when its rows would exceed the byte budget, and continues after the last row kept', () => {
    const big = 'x'.repeat(PAGE_MAX_BYTES / 3);
    const rows = [1, 2, 3, 4, 5];
    const page = toPage(rows, 5, (n) => ({ n, big }), String);
    expect(page.data.map((row) => row.n)).toEqual([1, 2]);
    expect(page.next_cursor).toBe('2');
  });

  it('keeps one row even when it alone exceeds the budget', () => {
    expect(toPage([1, 2], 5, (n) => ({ n }), String, 1)).toEqual({ data: [{ n: 1 }], next_cursor: '1' });
  });
});
