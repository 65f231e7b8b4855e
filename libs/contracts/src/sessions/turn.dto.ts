import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsIn, IsObject, IsString, Matches, MaxLength, MinLength, ValidateIf, ValidateNested } from 'class-validator';
import { IsExclusiveWith, IsJsonObject, IsOptionalNotNull, MaxJsonBytes } from '../common/validators.js';
import { BUSY_POLICIES, RUN_INPUT_MAX_BYTES, RunView, type BusyPolicy } from '../runs/run.dto.js';
import { ChatMessageView, InputItem, MESSAGE_TEXT_MAX } from './chat-message.dto.js';
import { RoutePolicy } from './session.dto.js';

/** An Idempotency-Key as the gateway accepts it: 1 to 255 printable ASCII characters. */
export const IDEMPOTENCY_KEY_PATTERN = /^[\x20-\x7e]{1,255}$/;

/** An optional idempotency key on a command payload (never null). */
export function IsIdempotencyKey(): PropertyDecorator {
  return (target: object, propertyName: string | symbol) => {
    for (const decorate of [IsOptionalNotNull(), IsString(), Matches(IDEMPOTENCY_KEY_PATTERN)]) decorate(target, propertyName);
  };
}

/**
 * A turn: the user's chat message, and the `chat` run it asks for. Exactly one of `content` (plain
 * text) or `input_items` (ordered parts), bounded so that the run can carry it as its input.
 */
export class CreateTurnBody {
  @ApiPropertyOptional({ description: 'Plain text; give this or input_items. Becomes the run’s `input`.' })
  @ValidateIf((body: CreateTurnBody) => body.input_items === undefined || body.content !== undefined)
  @IsExclusiveWith('input_items')
  @IsString()
  @MinLength(1)
  @MaxLength(MESSAGE_TEXT_MAX)
  @MaxJsonBytes(RUN_INPUT_MAX_BYTES)
  content?: string;

  @ApiPropertyOptional({ type: () => [InputItem], description: 'Ordered parts; become the run’s `input_items`.' })
  @ValidateIf((body: CreateTurnBody) => body.input_items !== undefined || body.content === undefined)
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(100)
  @MaxJsonBytes(RUN_INPUT_MAX_BYTES)
  @ValidateNested({ each: true })
  @Type(() => InputItem)
  input_items?: InputItem[];

  @ApiPropertyOptional({
    enum: BUSY_POLICIES,
    default: 'enqueue',
    description: 'When the session already has an active run: queue this one (`enqueue`), refuse the turn (`reject`, 409 `session_busy`) or take over (`interrupt`).',
  })
  @IsOptionalNotNull()
  @IsIn(BUSY_POLICIES)
  busy_policy?: BusyPolicy;

  @ApiPropertyOptional({ type: () => RoutePolicy, description: 'Overrides the session’s route policy for this turn’s run.' })
  @IsOptionalNotNull()
  @IsObject()
  @ValidateNested()
  @Type(() => RoutePolicy)
  route?: RoutePolicy;

  @ApiPropertyOptional({ type: 'object', additionalProperties: true, description: 'Stored on the chat message.' })
  @IsOptionalNotNull()
  @IsJsonObject(8192)
  metadata?: Record<string, unknown>;
}

/** What accepting a turn made: the user's chat message and the run it asked for. */
export class TurnView {
  @ApiProperty({ type: () => ChatMessageView }) message!: ChatMessageView;
  @ApiProperty({ type: () => RunView, description: 'A `chat` run; its `metadata.message_id` names the message.' }) run!: RunView;
}
