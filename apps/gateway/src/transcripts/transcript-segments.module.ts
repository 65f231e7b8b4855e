import { Module } from '@nestjs/common';
import { ServiceClient } from '../edge/service-client.js';
import { RunTranscriptSegmentsController } from './run-transcript-segments.controller.js';
import { SessionTranscriptSegmentsController } from './session-transcript-segments.controller.js';
import { TranscriptSegmentsController } from './transcript-segments.controller.js';

/**
 * Transcript segments over HTTP: create and list per session and per run, get by id. Needs the bus
 * and the gateway settings, provided globally by the app; the app's guards, filter, interceptors
 * (idempotency, audit) and pipe wrap it.
 */
@Module({
  controllers: [SessionTranscriptSegmentsController, RunTranscriptSegmentsController, TranscriptSegmentsController],
  providers: [ServiceClient],
})
export class TranscriptSegmentsModule {}
