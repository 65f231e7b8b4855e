import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Page } from '@runyard/contracts';
import { RequireRole } from '../identity/auth.decorators.js';
import { Caller, type AuthenticatedCaller } from '../identity/caller.js';
import { AuditEventPageResponse, ListAuditEventsQuery } from './audit-events.dto.js';
import { AuditService, type AuditEventView } from './audit.service.js';

@ApiTags('audit')
@ApiBearerAuth()
@Controller('v1/audit-events')
export class AuditController {
  constructor(private readonly audit: AuditService) {}

  @Get()
  @RequireRole('admin')
  @ApiOperation({ summary: "List the tenant's audit events, newest first (tenant admins)" })
  @ApiOkResponse({ type: AuditEventPageResponse })
  list(@Caller() caller: AuthenticatedCaller, @Query() query: ListAuditEventsQuery): Promise<Page<AuditEventView>> {
    return this.audit.list(caller, query);
  }
}
