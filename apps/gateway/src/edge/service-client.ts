import { Inject, Injectable } from '@nestjs/common';
import type { AnyCommand, PayloadOf, ReplyOf } from '@runyard/contracts';
import { BUS, traceContext, withTraceHeaders, type Bus } from '@runyard/messaging';
import type { GatewaySettings } from '../config.js';
import { REQUEST_ID_HEADER } from './request-id.js';
import { GATEWAY_SETTINGS } from './tokens.js';

/**
 * How the gateway's controllers reach the services: one bus request per HTTP call, with the
 * gateway's request timeout, the request id as a bus header, so the service's log lines carry the
 * same id, and the request's trace (`traceparent` naming a new child span per bus request, and
 * `tracestate`), so everything the service does for it joins the same trace. A bus failure arrives as DomainError(SERVICE_UNAVAILABLE | UPSTREAM_TIMEOUT) → 503 / 504.
 */
@Injectable()
export class ServiceClient {
  constructor(
    @Inject(BUS) private readonly bus: Bus,
    @Inject(GATEWAY_SETTINGS) private readonly settings: GatewaySettings,
  ) {}

  request<C extends AnyCommand>(command: C, payload: PayloadOf<C>, requestId: string): Promise<ReplyOf<C>> {
    return this.bus.request(command, payload, {
      timeoutMs: this.settings.requestTimeoutMs,
      headers: withTraceHeaders({ [REQUEST_ID_HEADER]: requestId }, traceContext()),
    });
  }
}
