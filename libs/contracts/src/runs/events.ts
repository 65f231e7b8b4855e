import { ApiProperty } from '@nestjs/swagger';
import { defineEvent } from '../common/define.js';
import { RUN_STATUSES, RunView, type RunStatus } from './run.dto.js';

export class RunStatusChangedData {
  @ApiProperty({ type: () => RunView, description: 'The run after the change.' }) run!: RunView;
  @ApiProperty({ enum: RUN_STATUSES }) from!: RunStatus;
  @ApiProperty({ enum: RUN_STATUSES }) to!: RunStatus;
}

// Wire names: renaming a subject is a migration (see common/define.ts).
export const RunCreated = defineEvent('runs.evt.run.created.v1', RunView);
export const RunStatusChanged = defineEvent('runs.evt.run.status_changed.v1', RunStatusChangedData);
