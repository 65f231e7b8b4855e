import type { RouteSource, RoutePolicy } from '@runyard/contracts';
import type { StoredRoute } from './run.entity.js';

/**
 * The route a run is pinned to: the first level that gives one wins — the run's own override, then
 * the session's route policy, then the deployment default — and is recorded as `route_source`. The
 * executor falls back to the deployment default when the winning level names none, so every run is
 * claimable by some worker.
 */
export function resolveRoute(
  runRoute: RoutePolicy | undefined,
  sessionPolicy: RoutePolicy | null,
  defaultExecutor: string,
): { route: StoredRoute; routeSource: RouteSource } {
  const [level, source]: [RoutePolicy | null, RouteSource] = hasRoute(runRoute) ? [runRoute, 'run'] : hasRoute(sessionPolicy) ? [sessionPolicy, 'session'] : [null, 'default'];
  const route: StoredRoute = { executor: level?.executor ?? defaultExecutor };
  if (level?.provider !== undefined) route.provider = level.provider;
  if (level?.model !== undefined) route.model = level.model;
  return { route, routeSource: source };
}

function hasRoute(policy: RoutePolicy | null | undefined): policy is RoutePolicy {
  return policy !== null && policy !== undefined && (policy.provider !== undefined || policy.model !== undefined || policy.executor !== undefined);
}
