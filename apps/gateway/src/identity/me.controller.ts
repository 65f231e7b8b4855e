import { Controller, Get } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Caller, type AuthenticatedCaller } from './caller.js';
import type { MeView } from './identity.views.js';
import { MeResponse } from './me.dto.js';
import { MeService } from './me.service.js';

@ApiTags('identity')
@ApiBearerAuth()
@Controller('v1/me')
export class MeController {
  constructor(private readonly me: MeService) {}

  @Get()
  @ApiOperation({ summary: 'Who the presented API key is: principal, tenant (null for the system key), role' })
  @ApiOkResponse({ type: MeResponse })
  describe(@Caller() caller: AuthenticatedCaller): Promise<MeView> {
    return this.me.describe(caller);
  }
}
