import { NestFactory } from '@nestjs/core';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Bus } from '@runyard/messaging';
import { NestPinoLogger, type Logger, type ReadinessCheck } from '@runyard/runtime';
import type { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
import { registerAuditHook } from './audit/audit.hook.js';
import { AuditService } from './audit/audit.service.js';
import type { GatewaySettings } from './config.js';
import { createEdgeAdapter, installEdgeHooks } from './edge/http-server.js';
import { GatewayModule } from './gateway.module.js';
import { SystemKeyService } from './identity/system-key.service.js';
import { buildOpenApiDocument } from './openapi/openapi.document.js';
import { serveOpenApi } from './openapi/openapi.routes.js';

export interface GatewayAppDependencies {
  bus: Bus;
  /** Initialised and migrated (schema `gateway`). */
  dataSource: DataSource;
  logger: Logger;
  /** ioredis client (distributed mode); absent → in-memory idempotency and rate limiting (standalone). */
  redis?: Redis;
  settings: GatewaySettings;
  readinessChecks: ReadinessCheck[];
}

export interface GatewayApp {
  /** Initialised, not listening: call `app.listen(port, host)`. */
  app: NestFastifyApplication;
  /** Only on the first start without a configured bootstrap key: show it once, never log it. */
  generatedSystemKey?: string;
}

/**
 * Builds the gateway: Fastify (request ids, one structured log line per request, JSON-only bodies
 * under the size limit), the Nest modules with the edge (auth → rate limit → idempotency →
 * validation → handler, problem+json errors), the audit hook, the OpenAPI document and docs page,
 * and the system key. It owns none of bus, data source and Redis: the caller closes them after
 * `app.close()`.
 */
export async function createGatewayApp(deps: GatewayAppDependencies): Promise<GatewayApp> {
  const adapter = createEdgeAdapter(deps.logger, deps.settings.bodyLimitBytes);
  const app = await NestFactory.create<NestFastifyApplication>(
    GatewayModule.forRoot({
      bus: deps.bus,
      dataSource: deps.dataSource,
      logger: deps.logger,
      redis: deps.redis ?? null,
      settings: deps.settings,
      readinessChecks: deps.readinessChecks,
    }),
    adapter,
    // Body parsing is set up below (JSON only); errors must reach the caller, not exit the process.
    { bodyParser: false, abortOnError: false, logger: new NestPinoLogger(deps.logger) },
  );
  try {
    const fastify = adapter.getInstance();
    installEdgeHooks(fastify);
    registerAuditHook(fastify, app.get(AuditService));
    serveOpenApi(fastify, buildOpenApiDocument(app));
    await app.init();
    const { generated } = await app.get(SystemKeyService).ensureSystemKey(deps.settings.bootstrapApiKey);
    return { app, generatedSystemKey: generated };
  } catch (error) {
    await app.close().catch(() => undefined);
    throw error;
  }
}
