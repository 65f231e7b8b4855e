import { Module } from '@nestjs/common';
import { ServiceClient } from '../edge/service-client.js';
import { EventStreamsController } from './event-streams.controller.js';
import { EventStreamsService } from './event-streams.service.js';
import { StreamSlots } from './stream-slots.js';

/**
 * The live event streams (SSE): `GET /v1/events/stream` and `GET /v1/runs/:id/stream`. Needs the bus
 * and the gateway settings, provided globally by the app; the app's guards, filter and pipe wrap it
 * like every other route.
 */
@Module({
  controllers: [EventStreamsController],
  providers: [EventStreamsService, ServiceClient, StreamSlots],
  // One count of open streams per principal for event streams and log tails alike.
  exports: [StreamSlots],
})
export class StreamsModule {}
