import { Module, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance } from 'fastify';
import { ServiceClient } from '../edge/service-client.js';
import { StreamsModule } from '../streams/streams.module.js';
import { LogTailController } from './log-tail.controller.js';
import { LogTailService } from './log-tail.service.js';
import { LogsController } from './logs.controller.js';
import { acceptNdjsonLogBatches } from './ndjson-body.js';

/**
 * Run logs over HTTP: append (JSON or NDJSON), list, and the live tail (SSE). Needs the bus and the
 * gateway settings, provided globally by the app; the app's guards, filter and pipe wrap it.
 */
@Module({
  imports: [StreamsModule],
  controllers: [LogsController, LogTailController],
  providers: [LogTailService, ServiceClient],
})
export class LogsModule implements OnModuleInit {
  constructor(private readonly adapterHost: HttpAdapterHost) {}

  /** After the edge made bodies JSON-only (before init), and before the server is ready. */
  onModuleInit(): void {
    acceptNdjsonLogBatches(this.adapterHost.httpAdapter.getInstance<FastifyInstance>());
  }
}
