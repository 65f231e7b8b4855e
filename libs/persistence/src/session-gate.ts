import type { PGlite } from '@electric-sql/pglite';

interface Waiter {
  grant(): void;
  timer?: NodeJS.Timeout;
}

/**
 * A PGlite instance is a single Postgres session shared by every data source in the process. The gate
 * hands that session to one client at a time, first come first served, so a transaction owns the
 * session from BEGIN to COMMIT/ROLLBACK and nobody else's statements land inside it.
 */
export class SessionGate {
  /** The search_path last set on the session by a pool; undefined when it may have changed since. */
  searchPath: string | undefined;
  private held = false;
  private readonly waiters: Waiter[] = [];

  /** Resolves once the caller holds the session; rejects after `timeoutMs` (if > 0) of waiting. */
  acquire(timeoutMs = 0): Promise<void> {
    if (!this.held) {
      this.held = true;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        grant: () => {
          clearTimeout(waiter.timer);
          resolve();
        },
      };
      if (timeoutMs > 0) {
        waiter.timer = setTimeout(() => {
          const index = this.waiters.indexOf(waiter);
          if (index !== -1) this.waiters.splice(index, 1);
          reject(
            new Error(
              `timeout exceeded when trying to connect: the embedded database session was busy for ${timeoutMs} ms ` +
                '(a long transaction, or code waiting on a second connection while holding one)',
            ),
          );
        }, timeoutMs);
      }
      this.waiters.push(waiter);
    });
  }

  /** Hands the session to the next waiter, or marks it free. */
  release(): void {
    const next = this.waiters.shift();
    if (next) next.grant();
    else this.held = false;
  }
}

const gates = new WeakMap<PGlite, SessionGate>();

/** The one gate of a PGlite instance, shared by every pool built over it. */
export function sessionGateFor(pglite: PGlite): SessionGate {
  let gate = gates.get(pglite);
  if (!gate) {
    gate = new SessionGate();
    gates.set(pglite, gate);
  }
  return gate;
}
