import { ApiProperty } from '@nestjs/swagger';
import { PrincipalResponse } from './principals.dto.js';
import { TenantResponse } from './tenants.dto.js';

export class MeApiKeyResponse {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() prefix!: string;
}

export class MeResponse {
  @ApiProperty({ type: PrincipalResponse }) principal!: PrincipalResponse;
  @ApiProperty({ type: TenantResponse, nullable: true }) tenant!: TenantResponse | null;
  @ApiProperty({ enum: ['admin', 'member', 'system'] }) role!: string;
  @ApiProperty({ type: MeApiKeyResponse }) api_key!: MeApiKeyResponse;
}
