import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  IsUrl,
  MaxLength,
  Min,
  MinLength,
  ValidateIf,
  ValidateNested,
} from 'class-validator';
import { PageQuery } from '../common/pagination.js';
import { IsExclusiveWith, IsJsonObject, IsOptionalNotNull } from '../common/validators.js';

export const CHAT_ROLES = ['user', 'assistant', 'system', 'tool'] as const;
export type ChatRole = (typeof CHAT_ROLES)[number];
export const INPUT_ITEM_TYPES = ['text', 'file'] as const;
export type InputItemType = (typeof INPUT_ITEM_TYPES)[number];
export const MESSAGE_TEXT_MAX = 100_000;

/** One ordered part of a message: text, or a reference to a file stored elsewhere. */
export class InputItem {
  @ApiProperty({ enum: INPUT_ITEM_TYPES })
  @IsIn(INPUT_ITEM_TYPES)
  type!: InputItemType;

  @ApiPropertyOptional({ description: 'Required when type is text.' })
  @ValidateIf((item: InputItem) => item.type === 'text')
  @IsString()
  @MinLength(1)
  @MaxLength(MESSAGE_TEXT_MAX)
  text?: string;

  @ApiPropertyOptional({ description: 'Id of a file in the caller’s file store; file items need file_id or url.' })
  @ValidateIf((item: InputItem) => item.type === 'file' && (item.file_id !== undefined || item.url === undefined))
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  file_id?: string;

  @ApiPropertyOptional()
  @ValidateIf((item: InputItem) => item.type === 'file' && item.url !== undefined)
  @IsUrl({ protocols: ['http', 'https'], require_protocol: true })
  @MaxLength(2000)
  url?: string;

  @ApiPropertyOptional()
  @ValidateIf((item: InputItem) => item.type === 'file' && item.name !== undefined)
  @IsString()
  @MaxLength(300)
  name?: string;

  @ApiPropertyOptional({ example: 'application/pdf' })
  @ValidateIf((item: InputItem) => item.type === 'file' && item.mime_type !== undefined)
  @IsString()
  @MaxLength(200)
  mime_type?: string;
}

/** Exactly one of `content` (plain text) or `input_items` (ordered parts). */
export class AppendMessageBody {
  @ApiProperty({ enum: CHAT_ROLES })
  @IsIn(CHAT_ROLES)
  role!: ChatRole;

  @ApiPropertyOptional({ description: 'Plain text; give this or input_items.' })
  @ValidateIf((body: AppendMessageBody) => body.input_items === undefined || body.content !== undefined)
  @IsExclusiveWith('input_items')
  @IsString()
  @MinLength(1)
  @MaxLength(MESSAGE_TEXT_MAX)
  content?: string;

  @ApiPropertyOptional({ type: () => [InputItem] })
  @ValidateIf((body: AppendMessageBody) => body.input_items !== undefined || body.content === undefined)
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(100)
  @ValidateNested({ each: true })
  @Type(() => InputItem)
  input_items?: InputItem[];

  @ApiPropertyOptional({ type: 'object', additionalProperties: true })
  @IsOptionalNotNull()
  @IsJsonObject(8192)
  metadata?: Record<string, unknown>;
}

export class ListMessagesQuery extends PageQuery {
  @ApiPropertyOptional({ description: 'Only messages with a greater seq.' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  after_seq?: number;
}

export class ChatMessageView {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ format: 'uuid' }) session_id!: string;
  @ApiProperty({ description: 'Position in the session, from 1, without gaps.' }) seq!: number;
  @ApiProperty({ enum: CHAT_ROLES }) role!: ChatRole;
  @ApiProperty({ nullable: true, type: String, description: 'The text parts joined by a blank line.' }) content!: string | null;
  @ApiProperty({ type: () => [InputItem] }) input_items!: InputItem[];
  @ApiProperty({ type: 'object', additionalProperties: true }) metadata!: Record<string, unknown>;
  @ApiProperty({ format: 'uuid', description: 'The principal that appended it.' }) author_id!: string;
  @ApiPropertyOptional({ format: 'uuid', description: 'The run that posted it; present only on messages a run posted (role assistant).' })
  run_id?: string;
  @ApiProperty({ format: 'date-time' }) created_at!: string;
}
