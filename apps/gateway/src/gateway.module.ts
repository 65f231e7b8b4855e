import { Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_INTERCEPTOR, APP_PIPE } from '@nestjs/core';
import { HealthController, HealthModule, type ReadinessCheck } from '@runyard/runtime';
import type { Redis } from 'ioredis';
import { AuditModule } from './audit/audit.module.js';
import type { GatewaySettings } from './config.js';
import { GatewayDependenciesModule, type GatewayDependencies } from './gateway-dependencies.module.js';
import { IdempotencyInterceptor } from './edge/idempotency/idempotency.interceptor.js';
import { IDEMPOTENCY_STORE } from './edge/idempotency/idempotency.store.js';
import { MemoryIdempotencyStore } from './edge/idempotency/memory-idempotency.store.js';
import { RedisIdempotencyStore } from './edge/idempotency/redis-idempotency.store.js';
import { ProblemExceptionFilter } from './edge/problem-exception.filter.js';
import { RateLimitGuard } from './edge/rate-limit/rate-limit.guard.js';
import { createRateLimiter, RATE_LIMITER } from './edge/rate-limit/rate-limiter.js';
import { ServiceClient } from './edge/service-client.js';
import { GATEWAY_REDIS, GATEWAY_SETTINGS } from './edge/tokens.js';
import { DtoValidationPipe } from './edge/validation.pipe.js';
import { AuthGuard } from './identity/auth.guard.js';
import { Public } from './identity/auth.decorators.js';
import { IdentityModule } from './identity/identity.module.js';
import { RunEventsController } from './runs/run-events.controller.js';
import { RunTraceController } from './traces/run-trace.controller.js';
import { RunStepsController } from './runs/run-steps.controller.js';
import { RunWaitsController } from './runs/run-waits.controller.js';
import { RunsController } from './runs/runs.controller.js';
import { SessionRunsController } from './runs/session-runs.controller.js';
import { MessagesController } from './sessions/messages.controller.js';
import { SessionsController } from './sessions/sessions.controller.js';
import { TurnsController } from './sessions/turns.controller.js';
import { LogsModule } from './logs/logs.module.js';
import { TranscriptSegmentsModule } from './transcripts/transcript-segments.module.js';
import { StreamsModule } from './streams/streams.module.js';

// Probes must answer without a key (Kubernetes has none); the controller lives in @runyard/runtime.
Public()(HealthController);

export interface GatewayModuleOptions extends GatewayDependencies {
  readinessChecks: ReadinessCheck[];
}

/**
 * The gateway: identity, audit and the live event streams (their own modules), the sessions and runs APIs, health, and the edge that
 * wraps every route — in this order: AuthGuard, RateLimitGuard, interceptors (idempotency, audit),
 * validation pipe, handler; errors of any of them leave through the ProblemExceptionFilter.
 */
@Module({})
export class GatewayModule {
  static forRoot(options: GatewayModuleOptions): DynamicModule {
    const { readinessChecks, ...dependencies } = options;
    return {
      module: GatewayModule,
      imports: [GatewayDependenciesModule.forRoot(dependencies), HealthModule.forRoot(readinessChecks), IdentityModule, AuditModule, StreamsModule, LogsModule, TranscriptSegmentsModule],
      controllers: [SessionsController, MessagesController, TurnsController, RunsController, SessionRunsController, RunStepsController, RunWaitsController, RunEventsController, RunTraceController],
      providers: [
        ServiceClient,
        {
          provide: IDEMPOTENCY_STORE,
          inject: [GATEWAY_REDIS],
          useFactory: (redis: Redis | null) => (redis ? new RedisIdempotencyStore(redis) : new MemoryIdempotencyStore()),
        },
        {
          provide: RATE_LIMITER,
          inject: [GATEWAY_REDIS, GATEWAY_SETTINGS],
          useFactory: (redis: Redis | null, settings: GatewaySettings) =>
            createRateLimiter({ points: settings.rateLimitPoints, durationSeconds: settings.rateLimitDurationSeconds, redis: redis ?? undefined }),
        },
        { provide: APP_FILTER, useClass: ProblemExceptionFilter },
        { provide: APP_PIPE, useClass: DtoValidationPipe },
        // Guard order is registration order: authenticate first, then limit per API key.
        { provide: APP_GUARD, useExisting: AuthGuard },
        { provide: APP_GUARD, useClass: RateLimitGuard },
        { provide: APP_INTERCEPTOR, useClass: IdempotencyInterceptor },
      ],
    };
  }
}
