import { Module } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { CLOCK, systemClock } from '../identity/clock.js';
import { AuditEventsRepository } from './audit-events.repository.js';
import { AuditController } from './audit.controller.js';
import { AuditInterceptor } from './audit.interceptor.js';
import { AuditService } from './audit.service.js';

/**
 * The audit trail: `AuditService` (group-committed, durable `record`), `GET /v1/audit-events`, and
 * the global `AuditInterceptor` that feeds `@Audited` metadata to the hook the app registers with
 * `registerAuditHook`. Needs typeorm's `DataSource` (class token) from the app, provided globally.
 */
@Module({
  controllers: [AuditController],
  providers: [
    AuditEventsRepository,
    AuditService,
    { provide: CLOCK, useValue: systemClock },
    { provide: APP_INTERCEPTOR, useClass: AuditInterceptor },
  ],
  exports: [AuditService, CLOCK],
})
export class AuditModule {}
