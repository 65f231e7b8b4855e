import { Inject, Injectable } from '@nestjs/common';
import { DomainError, ErrorCode, type CallerScope } from '@runyard/contracts';
import { DEFAULT_STREAM_MAX_PER_PRINCIPAL, type GatewaySettings } from '../config.js';
import { GATEWAY_SETTINGS } from '../edge/tokens.js';

/** What a refused stream suggests: a slot frees when any of the caller's streams ends. */
const STREAM_LIMIT_RETRY_AFTER_SECONDS = 5;

/**
 * Open (or opening) live streams per `tenant/principal` on this replica — event streams and log
 * tails alike, so one principal cannot hold more than `streamMaxPerPrincipal` of them together.
 */
@Injectable()
export class StreamSlots {
  private readonly open = new Map<string, number>();

  constructor(@Inject(GATEWAY_SETTINGS) private readonly settings: GatewaySettings) {}

  /** Counts a stream against the caller's limit (RATE_LIMITED past it); the returned function gives the slot back, once. */
  take(scope: CallerScope): () => void {
    const key = `${scope.tenant_id}/${scope.principal_id}`;
    const limit = this.settings.streamMaxPerPrincipal ?? DEFAULT_STREAM_MAX_PER_PRINCIPAL;
    const open = this.open.get(key) ?? 0;
    if (open >= limit) {
      throw new DomainError(ErrorCode.RATE_LIMITED, `At most ${limit} live streams may be open at once per API principal; close one first`, {
        retryAfterSeconds: STREAM_LIMIT_RETRY_AFTER_SECONDS,
      });
    }
    this.open.set(key, open + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.open.get(key) ?? 1) - 1;
      if (left > 0) this.open.set(key, left);
      else this.open.delete(key);
    };
  }
}
