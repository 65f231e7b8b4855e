import type { ReplayableResponse } from './idempotency.store.js';

export const IDEMPOTENT_REPLAYED_HEADER = 'idempotent-replayed';

/**
 * Thrown by the IdempotencyInterceptor to answer a retry with the stored response. Nest would
 * overwrite the status of a value returned from an interceptor with the route's own (201 for a
 * stored 400, say), so the replay goes out through the exception filter, which sends it verbatim.
 */
export class IdempotentReplay extends Error {
  constructor(readonly response: ReplayableResponse) {
    super('idempotent replay');
    this.name = 'IdempotentReplay';
  }
}
