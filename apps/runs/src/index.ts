export { RunsDatabaseEnv, RunsEnv } from './config.js';
export { runsMigrations } from './migrations/index.js';
export {
  createRunsApp,
  createRunsDataSource,
  RUNS_SCHEMA,
  runsEntities,
  runsReadinessChecks,
  type RunsAppDeps,
  type RunsAppOptions,
} from './runs.app.js';
export { RUNS_QUEUE_GROUP } from './runs.module.js';
export type { RunsSettings } from './runs/runs-settings.js';
