import { Global, Module, type DynamicModule } from '@nestjs/common';
import { BUS, type Bus } from '@runyard/messaging';
import type { Logger } from '@runyard/runtime';
import type { Redis } from 'ioredis';
import { DataSource } from 'typeorm';
import type { GatewaySettings } from './config.js';
import { GATEWAY_LOGGER, GATEWAY_REDIS, GATEWAY_SETTINGS } from './edge/tokens.js';

export interface GatewayDependencies {
  bus: Bus;
  /** Initialised and migrated; the gateway's repositories use it through typeorm's `DataSource` token. */
  dataSource: DataSource;
  logger: Logger;
  /** null in standalone mode. */
  redis: Redis | null;
  settings: GatewaySettings;
}

/**
 * What the app is given, as global providers so every gateway module (identity, audit, sessions, the
 * edge) injects the same instances. The app owns none of their lifecycles.
 */
@Global()
@Module({})
export class GatewayDependenciesModule {
  static forRoot(dependencies: GatewayDependencies): DynamicModule {
    const providers = [
      { provide: BUS, useValue: dependencies.bus },
      { provide: DataSource, useValue: dependencies.dataSource },
      { provide: GATEWAY_LOGGER, useValue: dependencies.logger },
      { provide: GATEWAY_REDIS, useValue: dependencies.redis },
      { provide: GATEWAY_SETTINGS, useValue: dependencies.settings },
    ];
    return { module: GatewayDependenciesModule, providers, exports: providers.map((provider) => provider.provide) };
  }
}
