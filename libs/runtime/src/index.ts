export { HealthController, HealthModule, READINESS_CHECKS, type ReadinessCheck } from './health.js';
export { createLogger, NestPinoLogger, REDACTED_PATHS, type Logger } from './logger.js';
export { connectRedis, redisReadiness, type RedisConnection } from './redis.js';
