import { Body, Controller, Get, HttpCode, HttpStatus, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Page } from '@runyard/contracts';
import { Audited } from '../audit/audited.decorator.js';
import { RequireRole } from './auth.decorators.js';
import { Caller, type AuthenticatedCaller } from './caller.js';
import type { PrincipalView } from './identity.views.js';
import { CreatePrincipalBody, ListPrincipalsQuery, PrincipalPageResponse, PrincipalResponse } from './principals.dto.js';
import { PrincipalsService } from './principals.service.js';

@ApiTags('principals')
@ApiBearerAuth()
@RequireRole('admin')
@Controller('v1/principals')
export class PrincipalsController {
  constructor(private readonly principals: PrincipalsService) {}

  @Post()
  @HttpCode(HttpStatus.CREATED)
  @Audited('principal.create', 'principal')
  @ApiOperation({ summary: 'Create a user or service account in the caller’s tenant (tenant admins)' })
  @ApiCreatedResponse({ type: PrincipalResponse })
  create(@Caller() caller: AuthenticatedCaller, @Body() body: CreatePrincipalBody): Promise<PrincipalView> {
    return this.principals.create(caller, body);
  }

  @Get()
  @ApiOperation({ summary: 'List the tenant’s principals, newest first (tenant admins)' })
  @ApiOkResponse({ type: PrincipalPageResponse })
  list(@Caller() caller: AuthenticatedCaller, @Query() query: ListPrincipalsQuery): Promise<Page<PrincipalView>> {
    return this.principals.list(caller, query);
  }
}
