import { ApiProperty } from '@nestjs/swagger';
import { LogLineView, type Page } from '@runyard/contracts';

/** OpenAPI shape of a page of log lines (generic Page<T> has no runtime class to describe). */
export class LogLinePageView implements Page<LogLineView> {
  @ApiProperty({ type: () => [LogLineView] }) data!: LogLineView[];
  @ApiProperty({ nullable: true, type: String, description: 'The seq of the last line of this page: pass as `cursor` (or `after_seq`) for the next; null on the last.' })
  next_cursor!: string | null;
}
