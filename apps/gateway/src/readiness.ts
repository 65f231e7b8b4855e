import { type Bus, checkBusConnected } from '@runyard/messaging';
import { pingDatabase } from '@runyard/persistence';
import type { ReadinessCheck } from '@runyard/runtime';
import type { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';

/** Ready when the database answers, the bus is connected and (distributed mode) Redis answers. */
export function gatewayReadinessChecks(deps: { dataSource: DataSource; bus: Bus; redis?: Redis }): ReadinessCheck[] {
  const checks: ReadinessCheck[] = [
    { name: 'database', check: () => pingDatabase(deps.dataSource) },
    { name: 'bus', check: () => checkBusConnected(deps.bus) },
  ];
  const redis = deps.redis;
  if (redis) {
    checks.push({
      name: 'redis',
      check: async () => {
        await redis.ping();
      },
    });
  }
  return checks;
}
