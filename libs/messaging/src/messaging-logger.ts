import type { LoggerService } from '@nestjs/common';

/** What the adapters and the relay log through: Nest's `Logger` or any pino-backed LoggerService fits. */
export type MessagingLogger = Pick<LoggerService, 'log' | 'warn' | 'error'>;
