export { SessionsDatabaseEnv, SessionsEnv } from './config.js';
export { sessionsMigrations } from './migrations/index.js';
export {
  createSessionsApp,
  createSessionsDataSource,
  SESSIONS_SCHEMA,
  sessionsEntities,
  sessionsReadinessChecks,
  type SessionsAppDeps,
  type SessionsAppOptions,
} from './sessions.app.js';
export { SESSIONS_QUEUE_GROUP } from './sessions.module.js';
