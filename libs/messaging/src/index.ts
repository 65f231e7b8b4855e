export {
  BUS,
  checkBusConnected,
  type Bus,
  type BusStatus,
  type CommandHandlerFn,
  type ConsumeOptions,
  type DeliveredEvent,
  type EventLogInfo,
  type HandlerContext,
  type LoggedEvent,
  type MessageHeaders,
  type Registration,
  type RequestOptions,
  type SubmitOptions,
  type WorkOptions,
  type Tail,
  type TailOptions,
  type TailStart,
} from './bus.js';
export { CommandHandler } from './command-handler.decorator.js';
export { MESSAGING_FEATURE_OPTIONS, type MessagingFeatureOptions } from './command-handler.explorer.js';
export { InProcessBus, type InProcessBusOptions } from './in-process-bus.js';
export { MessagingModule } from './messaging.module.js';
export type { MessagingLogger } from './messaging-logger.js';
export { NatsBus, type NatsBusOptions } from './nats-bus.js';
export {
  continueTraceId,
  formatTraceparent,
  newSpanId,
  newTraceId,
  parseTraceparent,
  runWithTraceContext,
  sanitizeTracestate,
  startTrace,
  traceContext,
  traceFromEvent,
  traceFromHeaders,
  traceHeaders,
  traceparentOf,
  withTraceHeaders,
  TRACEPARENT_HEADER,
  TRACESTATE_HEADER,
  type TraceContext,
  type Traceparent,
} from './trace-context.js';
export { validateCommandPayload, validatePayload } from './validate-payload.js';
export { CreateOutboxEvents1763600000000 } from './outbox/1763600000000-CreateOutboxEvents.js';
export { newEvent, type EventRefs } from './outbox/new-event.js';
export { OutboxEventEntity } from './outbox/outbox-event.entity.js';
export { OUTBOX_RELAY_OPTIONS, OutboxRelay, type OutboxRelayOptions } from './outbox/outbox-relay.service.js';
export { MAX_EVENT_BYTES, type OutboxEvents, TransactionalOutbox } from './outbox/transactional-outbox.service.js';
