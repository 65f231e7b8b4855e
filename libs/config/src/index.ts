export { IsBootstrapApiKey, IsLogLevel, IsNatsNamespace, IsNatsUrl, IsPort, IsPostgresUrl, IsRedisUrl, LOG_LEVELS, natsServers, type LogLevel } from './env-fields.js';
export { ConfigError, loadConfig, loadConfigOrExit, toBoolean } from './load-config.js';
export { ServiceBusEnv, ServiceDatabaseEnv } from './service-env.js';
