import { PageQuery } from '@runyard/contracts';
import { ApiProperty } from '@nestjs/swagger';
import { IsIn, IsNotEmpty, IsString, MaxLength } from 'class-validator';

const NAME_MAX = 200;

export const CREATABLE_PRINCIPAL_KINDS = ['user', 'service_account'] as const;
export const ASSIGNABLE_ROLES = ['admin', 'member'] as const;

export class CreatePrincipalBody {
  @ApiProperty({ maxLength: NAME_MAX, example: 'ci-bot' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(NAME_MAX)
  name!: string;

  @ApiProperty({ enum: CREATABLE_PRINCIPAL_KINDS })
  @IsIn(CREATABLE_PRINCIPAL_KINDS)
  kind!: (typeof CREATABLE_PRINCIPAL_KINDS)[number];

  @ApiProperty({ enum: ASSIGNABLE_ROLES })
  @IsIn(ASSIGNABLE_ROLES)
  role!: (typeof ASSIGNABLE_ROLES)[number];
}

export class ListPrincipalsQuery extends PageQuery {}

export class PrincipalResponse {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ format: 'uuid', nullable: true, type: String }) tenant_id!: string | null;
  @ApiProperty() name!: string;
  @ApiProperty({ enum: ['user', 'service_account', 'system'] }) kind!: string;
  @ApiProperty({ enum: ['admin', 'member', 'system'] }) role!: string;
  @ApiProperty({ format: 'date-time' }) created_at!: string;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) disabled_at!: string | null;
}

export class PrincipalPageResponse {
  @ApiProperty({ type: [PrincipalResponse] }) data!: PrincipalResponse[];
  @ApiProperty({ nullable: true, type: String }) next_cursor!: string | null;
}

