import { PageQuery } from '@runyard/contracts';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsNotEmpty, IsOptional, IsString, IsUUID, MaxLength } from 'class-validator';

const NAME_MAX = 200;

export class CreateApiKeyBody {
  @ApiProperty({ maxLength: NAME_MAX, example: 'deploy pipeline' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(NAME_MAX)
  name!: string;

  @ApiPropertyOptional({ format: 'uuid', description: 'owner of the key (admins only; default: the caller)' })
  @IsOptional()
  @IsUUID()
  principal_id?: string;
}

export class ListApiKeysQuery extends PageQuery {}

export class ApiKeyResponse {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ example: 'ryk_k3v9x0c2m1qa', description: 'visible part of the key' }) prefix!: string;
  @ApiProperty({ format: 'uuid' }) principal_id!: string;
  @ApiProperty({ enum: ['admin', 'member', 'system'], description: "the key acts with its principal's role" }) role!: string;
  @ApiProperty({ format: 'date-time' }) created_at!: string;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) last_used_at!: string | null;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) revoked_at!: string | null;
  @ApiProperty({ format: 'uuid', nullable: true, type: String }) created_by!: string | null;
}

export class CreatedApiKeyResponse extends ApiKeyResponse {
  @ApiProperty({ description: 'the full key; shown this once and never again', example: 'ryk_k3v9x0c2m1qa_…' }) key!: string;
}

export class ApiKeyPageResponse {
  @ApiProperty({ type: [ApiKeyResponse] }) data!: ApiKeyResponse[];
  @ApiProperty({ nullable: true, type: String }) next_cursor!: string | null;
}

