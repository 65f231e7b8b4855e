export {
  DEFAULT_BODY_LIMIT_BYTES,
  DEFAULT_RATE_LIMIT_DURATION_SECONDS,
  DEFAULT_RATE_LIMIT_POINTS,
  DEFAULT_REQUEST_TIMEOUT_MS,
  GatewayDatabaseEnv,
  GatewayEnv,
  toGatewaySettings,
  type GatewaySettings,
} from './config.js';
export { createGatewayApp, type GatewayApp, type GatewayAppDependencies } from './gateway.app.js';
export { createGatewayDataSource } from './gateway-data-source.js';
export { GATEWAY_SCHEMA, gatewayEntities } from './gateway-entities.js';
export { gatewayMigrations } from './migrations/index.js';
export { gatewayReadinessChecks } from './readiness.js';
