import { DomainError, ErrorCode } from '@runyard/contracts';
import type { Tail, TailStart } from './bus.js';
import { describeError } from './command-reply.js';
import type { MessagingLogger } from './messaging-logger.js';

/** Refuses a start point that names no position in the log (a caller's bug, so before any I/O). */
export function assertTailStart(start: TailStart): void {
  switch (start.kind) {
    case 'new':
      return;
    case 'after':
      if (!Number.isSafeInteger(start.sequence) || start.sequence < 0) {
        throw new DomainError(ErrorCode.VALIDATION_FAILED, `A tail's start sequence must be a non-negative integer, not ${String(start.sequence)}`);
      }
      return;
    case 'time':
      if (!(start.time instanceof Date) || Number.isNaN(start.time.getTime())) {
        throw new DomainError(ErrorCode.VALIDATION_FAILED, 'A tail’s start time must be a valid Date');
      }
      return;
  }
}

/** What an adapter supplies to run one tail; `startTail` turns it into the port's `Tail`. */
export interface TailDriver {
  /**
   * Delivers events one at a time until `stopping()` turns true or delivery fails (then it rejects).
   * Resolving while not stopping means the transport ended the tail.
   */
  run(stopping: () => boolean): Promise<void>;
  /** Wakes whatever run() waits on, so it sees `stopping()` at once (a handler in progress finishes first). */
  interrupt(): void;
  /** Releases what the tail holds (server-side consumer, the bus's bookkeeping). Must not throw. */
  cleanup(): Promise<void>;
}

/**
 * The lifecycle both adapters share: `ended` settles once run() and cleanup() are done — resolved after
 * stop(), rejected with the failure otherwise — and stop() is idempotent, never rejects, and resolves
 * only when no handler call is in progress or can still start.
 */
export function startTail(driver: TailDriver, label: string, logger: MessagingLogger): Tail {
  let stopping = false;
  const ended = (async () => {
    try {
      await driver.run(() => stopping);
      if (!stopping) throw new Error(`The tail on ${label} ended: the connection closed`);
    } catch (error) {
      if (!stopping) logger.warn(`Tail on ${label} ended: ${describeError(error)}`);
      throw error;
    } finally {
      stopping = true;
      await driver.cleanup();
    }
  })();
  // A caller that never looks at `ended` must not take the process down with an unhandled rejection.
  ended.catch(() => undefined);
  return {
    ended,
    stop: async () => {
      if (!stopping) {
        stopping = true;
        driver.interrupt();
      }
      await ended.catch(() => undefined);
    },
  };
}
