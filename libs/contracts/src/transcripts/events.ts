import { ApiProperty } from '@nestjs/swagger';
import { defineEvent } from '../common/define.js';

/**
 * Lines were committed to a run's log. Small on purpose (the range, not the text): a reader fetches
 * the lines with ListLogLines. Batches of one run are committed, and so published, in seq order.
 */
export class LogAppendedData {
  @ApiProperty({ format: 'uuid' }) run_id!: string;
  @ApiProperty() first_seq!: number;
  @ApiProperty() last_seq!: number;
}

/** The run ended and its log was closed: `last_seq` is its final line (0: it has none). */
export class LogClosedData {
  @ApiProperty({ format: 'uuid' }) run_id!: string;
  @ApiProperty() last_seq!: number;
}

// Wire names: renaming a subject is a migration (see common/define.ts).
export const LogAppended = defineEvent('transcripts.evt.log.appended.v1', LogAppendedData);
export const LogClosed = defineEvent('transcripts.evt.log.closed.v1', LogClosedData);
/** One filter for both log events (a live tail reads them together). */
export const LOG_EVENTS_FILTER = 'transcripts.evt.log.>';
