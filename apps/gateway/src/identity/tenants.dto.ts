import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsNotEmpty, IsOptional, IsString, MaxLength } from 'class-validator';
import { CreatedApiKeyResponse } from './api-keys.dto.js';
import { PrincipalResponse } from './principals.dto.js';

const NAME_MAX = 200;

export class CreateTenantBody {
  @ApiProperty({ maxLength: NAME_MAX, example: 'Acme' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(NAME_MAX)
  name!: string;

  @ApiPropertyOptional({ maxLength: NAME_MAX, description: "name of the tenant's first admin principal (default: admin)" })
  @IsOptional()
  @IsString()
  @IsNotEmpty()
  @MaxLength(NAME_MAX)
  admin_name?: string;
}

export class TenantResponse {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ format: 'date-time' }) created_at!: string;
}

export class CreatedTenantResponse {
  @ApiProperty({ type: TenantResponse }) tenant!: TenantResponse;
  @ApiProperty({ type: PrincipalResponse }) principal!: PrincipalResponse;
  @ApiProperty({ type: CreatedApiKeyResponse }) api_key!: CreatedApiKeyResponse;
}

