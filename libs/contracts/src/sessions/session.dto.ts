import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsIn,
  IsObject,
  IsOptional,
  IsString,
  IsUUID,
  Matches,
  MaxLength,
  MinLength,
  ValidateNested,
} from 'class-validator';
import { CreatedRangePageQuery } from '../common/pagination.js';
import { IsJsonObject, IsOptionalNotNull } from '../common/validators.js';

export const SESSION_STATUSES = ['active', 'archived'] as const;
export type SessionStatus = (typeof SESSION_STATUSES)[number];

const IDENTIFIER = /^[A-Za-z0-9][A-Za-z0-9._:/-]*$/;
export const METADATA_MAX_BYTES = 16 * 1024;

/** Default model/provider/executor for runs created in this session (a run may override it). */
export class RoutePolicy {
  @ApiPropertyOptional({ example: 'anthropic' })
  @IsOptional()
  @IsString()
  @MaxLength(100)
  @Matches(IDENTIFIER)
  provider?: string;

  @ApiPropertyOptional({ example: 'claude-sonnet-4' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  @Matches(IDENTIFIER)
  model?: string;

  @ApiPropertyOptional({ example: 'echo', description: 'Executor plug-in that workers use for runs.' })
  @IsOptional()
  @IsString()
  @MaxLength(100)
  @Matches(IDENTIFIER)
  executor?: string;
}

/** Where replies to this session go (a chat channel, a webhook, ...). Snapshotted into each run. */
export class ReplyTarget {
  @ApiProperty({ example: 'slack' })
  @IsString()
  @MinLength(1)
  @MaxLength(100)
  @Matches(IDENTIFIER)
  channel!: string;

  @ApiProperty({ example: 'C0123/1700000000.000100' })
  @IsString()
  @MinLength(1)
  @MaxLength(1000)
  address!: string;

  @ApiPropertyOptional({ type: 'object', additionalProperties: true })
  @IsOptionalNotNull()
  @IsJsonObject(4096)
  metadata?: Record<string, unknown>;
}

export class CreateSessionBody {
  @ApiPropertyOptional({ example: 'Quarterly report' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  title?: string;

  @ApiPropertyOptional({ format: 'uuid', description: 'Makes this a sub-session of that session.' })
  @IsOptional()
  @IsUUID()
  parent_session_id?: string;

  @ApiPropertyOptional({ type: 'object', additionalProperties: true })
  @IsOptionalNotNull()
  @IsJsonObject(METADATA_MAX_BYTES)
  metadata?: Record<string, unknown>;

  @ApiPropertyOptional({ type: () => RoutePolicy })
  @IsOptionalNotNull()
  @IsObject()
  @ValidateNested()
  @Type(() => RoutePolicy)
  route_policy?: RoutePolicy;

  @ApiPropertyOptional({ type: () => [ReplyTarget] })
  @IsOptionalNotNull()
  @IsArray()
  @ArrayMaxSize(10)
  @ValidateNested({ each: true })
  @Type(() => ReplyTarget)
  reply_targets?: ReplyTarget[];
}

/** PATCH: each field given replaces the stored one; `null` clears title or route policy. */
export class UpdateSessionBody {
  @ApiPropertyOptional({ nullable: true })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  title?: string | null;

  @ApiPropertyOptional({ type: 'object', additionalProperties: true })
  @IsOptionalNotNull()
  @IsJsonObject(METADATA_MAX_BYTES)
  metadata?: Record<string, unknown>;

  @ApiPropertyOptional({ type: () => RoutePolicy, nullable: true })
  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => RoutePolicy)
  route_policy?: RoutePolicy | null;

  @ApiPropertyOptional({ type: () => [ReplyTarget] })
  @IsOptionalNotNull()
  @IsArray()
  @ArrayMaxSize(10)
  @ValidateNested({ each: true })
  @Type(() => ReplyTarget)
  reply_targets?: ReplyTarget[];
}

export class ListSessionsQuery extends CreatedRangePageQuery {
  @ApiPropertyOptional({ format: 'uuid' })
  @IsOptional()
  @IsUUID()
  parent_session_id?: string;

  @ApiPropertyOptional({ enum: SESSION_STATUSES })
  @IsOptional()
  @IsIn(SESSION_STATUSES)
  status?: SessionStatus;
}

export class SessionView {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ format: 'uuid' }) tenant_id!: string;
  @ApiProperty({ format: 'uuid', description: 'The principal that owns the session.' }) owner_id!: string;
  @ApiProperty({ format: 'uuid', nullable: true, type: String }) parent_session_id!: string | null;
  @ApiProperty({ nullable: true, type: String }) title!: string | null;
  @ApiProperty({ enum: SESSION_STATUSES }) status!: SessionStatus;
  @ApiProperty({ type: 'object', additionalProperties: true }) metadata!: Record<string, unknown>;
  @ApiProperty({ type: () => RoutePolicy, nullable: true }) route_policy!: RoutePolicy | null;
  @ApiProperty({ type: () => [ReplyTarget] }) reply_targets!: ReplyTarget[];
  @ApiProperty({ description: 'Number of chat messages; the seq of the last one.' }) message_count!: number;
  @ApiProperty({ format: 'date-time' }) created_at!: string;
  @ApiProperty({ format: 'date-time' }) updated_at!: string;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) archived_at!: string | null;
}
