import { Body, Controller, Delete, Get, HttpCode, HttpStatus, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Page } from '@runyard/contracts';
import { Audited } from '../audit/audited.decorator.js';
import { RequireRole } from './auth.decorators.js';
import { ApiKeyPageResponse, ApiKeyResponse, CreateApiKeyBody, CreatedApiKeyResponse, ListApiKeysQuery } from './api-keys.dto.js';
import { ApiKeysService } from './api-keys.service.js';
import { Caller, type AuthenticatedCaller } from './caller.js';
import type { ApiKeyView, CreatedApiKeyView } from './identity.views.js';

@ApiTags('api-keys')
@ApiBearerAuth()
@RequireRole('admin', 'member')
@Controller('v1/api-keys')
export class ApiKeysController {
  constructor(private readonly apiKeys: ApiKeysService) {}

  @Post()
  @HttpCode(HttpStatus.CREATED)
  @Audited('api_key.create', 'api_key')
  @ApiOperation({ summary: 'Create an API key (admins: for any principal of the tenant; members: for themselves)' })
  @ApiCreatedResponse({ type: CreatedApiKeyResponse, description: 'key is shown this once' })
  create(@Caller() caller: AuthenticatedCaller, @Body() body: CreateApiKeyBody): Promise<CreatedApiKeyView> {
    return this.apiKeys.create(caller, body);
  }

  @Get()
  @ApiOperation({ summary: 'List API keys, newest first (admins: the tenant’s; members: their own)' })
  @ApiOkResponse({ type: ApiKeyPageResponse })
  list(@Caller() caller: AuthenticatedCaller, @Query() query: ListApiKeysQuery): Promise<Page<ApiKeyView>> {
    return this.apiKeys.list(caller, query);
  }

  @Delete(':id')
  @HttpCode(HttpStatus.OK)
  @Audited('api_key.revoke', 'api_key')
  @ApiOperation({ summary: 'Revoke an API key (idempotent; admins: any key of the tenant; members: their own)' })
  @ApiOkResponse({ type: ApiKeyResponse })
  revoke(@Caller() caller: AuthenticatedCaller, @Param('id') id: string): Promise<ApiKeyView> {
    return this.apiKeys.revoke(caller, id);
  }
}
