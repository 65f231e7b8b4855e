import { type Bus, checkBusConnected } from '@runyard/messaging';
import { pingDatabase } from '@runyard/persistence';
import { redisReadiness, type ReadinessCheck } from '@runyard/runtime';
import type { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';

/** Ready when the database answers, the bus is connected and (distributed mode) Redis answers. */
export function gatewayReadinessChecks(deps: { dataSource: DataSource; bus: Bus; redis?: Redis }): ReadinessCheck[] {
  const checks: ReadinessCheck[] = [
    { name: 'database', check: () => pingDatabase(deps.dataSource) },
    { name: 'bus', check: () => checkBusConnected(deps.bus) },
  ];
  if (deps.redis) checks.push(redisReadiness(deps.redis));
  return checks;
}
