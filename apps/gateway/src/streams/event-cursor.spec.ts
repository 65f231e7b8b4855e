import { describe, expect, it } from '@jest/globals';
import { DomainError, ErrorCode } from '@runyard/contracts';
import fc from 'fast-check';
import { epochTag, formatCursor, parseCursor, planResume } from './event-cursor.js';

const log = (epoch: string, firstSequence: number, lastSequence: number) => ({ epoch, firstSequence, lastSequence });

function expectInvalid(raw: string): void {
  let caught: unknown;
  try {
    parseCursor(raw);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(DomainError);
  expect((caught as DomainError).code).toBe(ErrorCode.INVALID_CURSOR);
}

describe('event cursor', () => {
  it('tags an epoch with a short stable hash, different per epoch', () => {
    expect(epochTag('stream-a')).toMatch(/^[0-9a-f]{12}$/);
    expect(epochTag('stream-a')).toBe(epochTag('stream-a'));
    expect(epochTag('stream-a')).not.toBe(epochTag('stream-b'));
  });

  it('round-trips every sequence of every epoch', () => {
    fc.assert(
      fc.property(fc.string(), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (epoch, sequence) => {
        const tag = epochTag(epoch);
        expect(parseCursor(formatCursor(tag, sequence))).toEqual({ epochTag: tag, sequence });
      }),
    );
  });

  it('refuses anything that is not a cursor with invalid_cursor', () => {
    const tag = epochTag('e');
    for (const raw of ['', 'x', '42', `${tag}`, `${tag}-`, `${tag}--1`, `${tag}-01`, `${tag}-1.5`, `${tag}-1e3`, `${tag}- 1`, `${tag}-1 `, `${tag.toUpperCase()}-1`,
      `${tag.slice(1)}-1`, `${tag}0-1`, `${tag}-${'9'.repeat(17)}`, `${tag}-9007199254740993`, `${tag}-1\n`, '../../etc-1']) {
      expectInvalid(raw);
    }
  });

  describe('planResume', () => {
    const current = log('stream-a', 100, 500);
    const tag = epochTag('stream-a');

    it('starts fresh without a cursor', () => {
      expect(planResume(null, current)).toEqual({ kind: 'fresh' });
    });

    it('resumes strictly after the cursor while the next event is still retained', () => {
      expect(planResume({ epochTag: tag, sequence: 250 }, current)).toEqual({ kind: 'resume', after: 250 });
      // The client saw 99; 100 is the first retained: nothing lost.
      expect(planResume({ epochTag: tag, sequence: 99 }, current)).toEqual({ kind: 'resume', after: 99 });
      expect(planResume({ epochTag: tag, sequence: 500 }, current)).toEqual({ kind: 'resume', after: 500 });
    });

    it('reports a retention gap when the next event has left the log', () => {
      expect(planResume({ epochTag: tag, sequence: 98 }, current)).toEqual({ kind: 'gap', reason: 'retention' });
      expect(planResume({ epochTag: tag, sequence: 0 }, current)).toEqual({ kind: 'gap', reason: 'retention' });
    });

    it('treats an emptied log by its next sequence (first = last + 1)', () => {
      const emptied = log('stream-a', 501, 500);
      expect(planResume({ epochTag: tag, sequence: 500 }, emptied)).toEqual({ kind: 'resume', after: 500 });
      expect(planResume({ epochTag: tag, sequence: 499 }, emptied)).toEqual({ kind: 'gap', reason: 'retention' });
    });

    it('refuses a cursor of this log beyond its last event with invalid_cursor: it was never handed out', () => {
      for (const [sequence, info] of [
        [501, current],
        [Number.MAX_SAFE_INTEGER, current],
        [501, log('stream-a', 501, 500)],
        [1, log('stream-a', 1, 0)],
      ] as const) {
        let caught: unknown;
        try {
          planResume({ epochTag: tag, sequence }, info);
        } catch (error) {
          caught = error;
        }
        expect(caught).toMatchObject({ code: ErrorCode.INVALID_CURSOR });
      }
    });

    it('reports an epoch gap for a cursor of another log, whatever its sequence', () => {
      expect(planResume({ epochTag: epochTag('stream-b'), sequence: 250 }, current)).toEqual({ kind: 'gap', reason: 'epoch' });
      expect(planResume({ epochTag: epochTag('stream-b'), sequence: 0 }, log('stream-a', 1, 0))).toEqual({ kind: 'gap', reason: 'epoch' });
    });
  });
});
