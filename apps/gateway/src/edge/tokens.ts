/** Injection tokens for what `createGatewayApp` is given (it owns none of their lifecycles). */
export const GATEWAY_SETTINGS = Symbol('runyard.gateway.settings');
export const GATEWAY_LOGGER = Symbol('runyard.gateway.logger');
/** The ioredis client in distributed mode; `null` in standalone mode. */
export const GATEWAY_REDIS = Symbol('runyard.gateway.redis');
