import { createServiceDataSource } from '@runyard/persistence';
import type { DataSource } from 'typeorm';
import { GATEWAY_SCHEMA, gatewayEntities } from './gateway-entities.js';
import { gatewayMigrations } from './migrations/index.js';

/** The gateway's data source (not yet initialised) over a PostgreSQL server or an embedded database. */
export function createGatewayDataSource(target: Parameters<typeof createServiceDataSource>[0]['target']): DataSource {
  return createServiceDataSource({ schema: GATEWAY_SCHEMA, target, entities: gatewayEntities, migrations: gatewayMigrations });
}
