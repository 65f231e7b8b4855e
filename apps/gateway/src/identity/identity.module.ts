import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module.js';
import { ApiKeyAuthService } from './api-key-auth.service.js';
import { authFailureLimiterProvider } from './auth-failure-limiter.js';
import { ApiKeysController } from './api-keys.controller.js';
import { ApiKeysRepository } from './api-keys.repository.js';
import { ApiKeysService } from './api-keys.service.js';
import { AuthGuard } from './auth.guard.js';
import { MeController } from './me.controller.js';
import { MeService } from './me.service.js';
import { PrincipalsController } from './principals.controller.js';
import { PrincipalsRepository } from './principals.repository.js';
import { PrincipalsService } from './principals.service.js';
import { SystemKeyRepository } from './system-key.repository.js';
import { SystemKeyService } from './system-key.service.js';
import { TenantsController } from './tenants.controller.js';
import { TenantsRepository } from './tenants.repository.js';
import { TenantsService } from './tenants.service.js';

/**
 * Tenants, principals, API keys and authentication. Needs typeorm's `DataSource` (class token)
 * provided globally by the app. Exports `AuthGuard` (and what it needs, so the app can also register
 * it with `{ provide: APP_GUARD, useClass: AuthGuard }`) and `SystemKeyService` for boot.
 */
@Module({
  imports: [AuditModule],
  controllers: [TenantsController, PrincipalsController, ApiKeysController, MeController],
  providers: [
    TenantsRepository,
    PrincipalsRepository,
    ApiKeysRepository,
    SystemKeyRepository,
    ApiKeyAuthService,
    TenantsService,
    PrincipalsService,
    ApiKeysService,
    MeService,
    SystemKeyService,
    authFailureLimiterProvider,
    AuthGuard,
  ],
  exports: [AuthGuard, ApiKeyAuthService, SystemKeyService, AuditModule, authFailureLimiterProvider.provide],
})
export class IdentityModule {}
