export { selectedExecutors, WorkerEnv } from './config.js';
export { startWorkerApp, workerReadinessChecks, type RunningWorkerApp, type WorkerAppOptions } from './worker.app.js';
