import type { Bus } from '@runyard/messaging';
import { pingDatabase } from '@runyard/persistence';
import type { ReadinessCheck } from '@runyard/runtime';
import type { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';

/** Ready when the database answers, the bus is connected and (distributed mode) Redis answers. */
export function gatewayReadinessChecks(deps: { dataSource: DataSource; bus: Bus; redis?: Redis }): ReadinessCheck[] {
  const checks: ReadinessCheck[] = [
    { name: 'database', check: () => pingDatabase(deps.dataSource) },
    {
      name: 'bus',
      check: () => {
        const status = deps.bus.status();
        return status.connected ? Promise.resolve() : Promise.reject(new Error(status.detail ?? 'not connected'));
      },
    },
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
