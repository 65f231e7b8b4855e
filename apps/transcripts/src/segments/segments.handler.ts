import { Injectable } from '@nestjs/common';
import {
  CreateRunTranscriptSegment,
  CreateSessionTranscriptSegment,
  GetTranscriptSegment,
  ListRunTranscriptSegments,
  ListSessionTranscriptSegments,
  PostRunTranscriptSegment,
  type Page,
  type PayloadOf,
  type TranscriptSegmentView,
} from '@runyard/contracts';
import { CommandHandler } from '@runyard/messaging';
import { SegmentsService } from './segments.service.js';

/** Bus entry points of transcript segments: principals' creates and reads (scoped), and workers' writes (lease-held). */
@Injectable()
export class SegmentsHandler {
  constructor(private readonly segments: SegmentsService) {}

  @CommandHandler(CreateSessionTranscriptSegment)
  createForSession(payload: PayloadOf<typeof CreateSessionTranscriptSegment>): Promise<TranscriptSegmentView> {
    return this.segments.createForSession(payload.scope, payload.session_id, payload.body, payload.idempotency_key);
  }

  @CommandHandler(CreateRunTranscriptSegment)
  createForRun(payload: PayloadOf<typeof CreateRunTranscriptSegment>): Promise<TranscriptSegmentView> {
    return this.segments.createForRun(payload.scope, payload.run_id, payload.body, payload.idempotency_key);
  }

  @CommandHandler(PostRunTranscriptSegment)
  postForRun(payload: PayloadOf<typeof PostRunTranscriptSegment>): Promise<TranscriptSegmentView> {
    return this.segments.postForRun(payload);
  }

  @CommandHandler(ListSessionTranscriptSegments)
  listForSession(payload: PayloadOf<typeof ListSessionTranscriptSegments>): Promise<Page<TranscriptSegmentView>> {
    return this.segments.list(payload.scope, { sessionId: payload.session_id }, payload.query);
  }

  @CommandHandler(ListRunTranscriptSegments)
  listForRun(payload: PayloadOf<typeof ListRunTranscriptSegments>): Promise<Page<TranscriptSegmentView>> {
    return this.segments.list(payload.scope, { runId: payload.run_id }, payload.query);
  }

  @CommandHandler(GetTranscriptSegment)
  get(payload: PayloadOf<typeof GetTranscriptSegment>): Promise<TranscriptSegmentView> {
    return this.segments.get(payload.scope, payload.segment_id);
  }
}
