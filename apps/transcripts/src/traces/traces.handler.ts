import { Injectable } from '@nestjs/common';
import { GetRunTrace, RecordTraceSpans, type PayloadOf, type RunTraceView, type TraceSpansRecorded } from '@runyard/contracts';
import { CommandHandler } from '@runyard/messaging';
import { TracesService } from './traces.service.js';

/** Bus entry points of run traces: workers' span batches (trusted, no caller scope) and principals' reads. */
@Injectable()
export class TracesHandler {
  constructor(private readonly traces: TracesService) {}

  @CommandHandler(RecordTraceSpans)
  record(payload: PayloadOf<typeof RecordTraceSpans>): Promise<TraceSpansRecorded> {
    return this.traces.record(payload);
  }

  @CommandHandler(GetRunTrace)
  tree(payload: PayloadOf<typeof GetRunTrace>): Promise<RunTraceView> {
    return this.traces.tree(payload.scope, payload.run_id);
  }
}
