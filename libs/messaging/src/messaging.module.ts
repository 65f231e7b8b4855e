import { type DynamicModule, Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { CommandHandlerExplorer, MESSAGING_FEATURE_OPTIONS, type MessagingFeatureOptions } from './command-handler.explorer.js';

/**
 * `MessagingModule.forFeature({ queueGroup: 'sessions' })` in a service's application module
 * subscribes every `@CommandHandler` method of that application on the bus (the `BUS` provider the
 * application supplies) at bootstrap, in that queue group, and unsubscribes before shutdown — call
 * `app.close()` or enable shutdown hooks. One queue group per application.
 */
@Module({})
export class MessagingModule {
  static forFeature(options: MessagingFeatureOptions): DynamicModule {
    return {
      module: MessagingModule,
      imports: [DiscoveryModule],
      providers: [{ provide: MESSAGING_FEATURE_OPTIONS, useValue: { ...options } }, CommandHandlerExplorer],
    };
  }
}
