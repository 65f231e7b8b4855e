import { createHash } from 'node:crypto';
import { DomainError, ErrorCode } from '@runyard/contracts';
import type { EventLogInfo } from '@runyard/messaging';

/**
 * The `id:` of every streamed event, and what `Last-Event-ID` / `last_event_id` resume from:
 * `<epoch tag>-<log sequence>`. The tag is a short hash of the event log's epoch, so a cursor from a
 * recreated log (new JetStream stream, standalone restart) is recognised as meaningless here rather
 * than resumed at a wrong position. Opaque to clients: only this module reads or writes one.
 */
export interface EventCursor {
  epochTag: string;
  sequence: number;
}

const TAG_LENGTH = 12;
const CURSOR_PATTERN = /^([0-9a-f]{12})-(0|[1-9][0-9]{0,15})$/;

/** 48 bits of SHA-256: two epochs colliding by chance is not a practical concern. */
export function epochTag(epoch: string): string {
  return createHash('sha256').update(epoch).digest('hex').slice(0, TAG_LENGTH);
}

export function formatCursor(tag: string, sequence: number): string {
  return `${tag}-${sequence}`;
}

/** A malformed cursor is the client's error: 400 `invalid_cursor`. */
export function parseCursor(raw: string): EventCursor {
  const match = CURSOR_PATTERN.exec(raw);
  const sequence = match?.[2] === undefined ? NaN : Number(match[2]);
  if (!match?.[1] || !Number.isSafeInteger(sequence)) {
    throw new DomainError(ErrorCode.INVALID_CURSOR, 'Last-Event-ID is not a cursor of this stream; reconnect without it');
  }
  return { epochTag: match[1], sequence };
}

export type GapReason = 'epoch' | 'retention';

/** Where a stream starts, given the client's cursor and the log as it is now. */
export type ResumePlan =
  /** No cursor: the stream's own default start. */
  | { kind: 'fresh' }
  /** Continue strictly after this sequence: nothing in between was lost. */
  | { kind: 'resume'; after: number }
  /** The cursor cannot be resumed exactly: tell the client (`gap`), then send everything still retained. */
  | { kind: 'gap'; reason: GapReason };

/**
 * A cursor of this log beyond its last event was never handed out: waiting for that position would send
 * the client nothing until the log caught up, silently skipping whatever comes before it. 400 `invalid_cursor`.
 */
export function planResume(cursor: EventCursor | null, log: EventLogInfo): ResumePlan {
  if (cursor === null) return { kind: 'fresh' };
  if (cursor.epochTag !== epochTag(log.epoch)) return { kind: 'gap', reason: 'epoch' };
  if (cursor.sequence > log.lastSequence) {
    throw new DomainError(ErrorCode.INVALID_CURSOR, 'Last-Event-ID is beyond the end of this stream; reconnect without it');
  }
  // The next event the client needs is `sequence + 1`; if the log no longer holds it, events were lost.
  if (cursor.sequence + 1 < log.firstSequence) return { kind: 'gap', reason: 'retention' };
  return { kind: 'resume', after: cursor.sequence };
}
