import { Body, Controller, HttpCode, HttpStatus, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Audited } from '../audit/audited.decorator.js';
import { RequireRole } from './auth.decorators.js';
import { Caller, type AuthenticatedCaller } from './caller.js';
import type { CreatedTenantView } from './identity.views.js';
import { CreatedTenantResponse, CreateTenantBody } from './tenants.dto.js';
import { TenantsService } from './tenants.service.js';

@ApiTags('tenants')
@ApiBearerAuth()
@Controller('v1/tenants')
export class TenantsController {
  constructor(private readonly tenants: TenantsService) {}

  @Post()
  @HttpCode(HttpStatus.CREATED)
  @RequireRole('system')
  @Audited('tenant.create', 'tenant')
  @ApiOperation({ summary: 'Create a tenant with its first admin and that admin’s API key (system key only)' })
  @ApiCreatedResponse({ type: CreatedTenantResponse, description: 'api_key.key is shown this once' })
  create(@Caller() caller: AuthenticatedCaller, @Body() body: CreateTenantBody): Promise<CreatedTenantView> {
    return this.tenants.create(caller, body);
  }
}
