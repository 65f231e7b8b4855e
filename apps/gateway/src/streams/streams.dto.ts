import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, IsUUID } from 'class-validator';

const LAST_EVENT_ID_DESCRIPTION =
  'Resume after this event id, for clients that cannot send the `Last-Event-ID` header (the header wins when both are given).';

export class RunStreamQuery {
  // Checked by the cursor codec, so every malformed cursor answers `invalid_cursor` alike.
  @ApiPropertyOptional({ description: LAST_EVENT_ID_DESCRIPTION })
  @IsOptional()
  @IsString()
  last_event_id?: string;
}

export class EventStreamQuery extends RunStreamQuery {
  @ApiPropertyOptional({ format: 'uuid', description: 'Only events of this session (and of its runs); a session the caller cannot see answers 404.' })
  @IsOptional()
  @IsUUID()
  session_id?: string;

  @ApiPropertyOptional({ format: 'uuid', description: 'Only events of this run; a run the caller cannot see answers 404.' })
  @IsOptional()
  @IsUUID()
  run_id?: string;
}
