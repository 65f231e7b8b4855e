import { type BeforeApplicationShutdown, Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { DiscoveryService, MetadataScanner, ModuleRef, Reflector } from '@nestjs/core';
import type { AnyCommand } from '@runyard/contracts';
import { BUS, type Bus, type HandlerContext, type Registration } from './bus.js';
import { COMMAND_HANDLER_METADATA } from './command-handler.decorator.js';

export interface MessagingFeatureOptions {
  /** The service's queue group: its replicas share every command it handles. */
  queueGroup: string;
}

export const MESSAGING_FEATURE_OPTIONS = Symbol('runyard.messaging.feature-options');

interface DiscoveredHandler {
  command: AnyCommand;
  name: string;
  invoke(payload: object, ctx: HandlerContext): Promise<unknown>;
}

/**
 * Finds every `@CommandHandler` method among the application's providers and subscribes it on the
 * bus once the application has booted; unsubscribes before shutdown (in-flight handlers finish).
 * Two methods claiming one subject stop the boot: it would otherwise depend on luck which one runs.
 */
@Injectable()
export class CommandHandlerExplorer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private registrations: Registration[] = [];

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly reflector: Reflector,
    private readonly moduleRef: ModuleRef,
    @Inject(MESSAGING_FEATURE_OPTIONS) private readonly options: MessagingFeatureOptions,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const handlers = this.explore();
    if (handlers.length === 0) return;
    const bus = this.resolveBus();
    try {
      for (const handler of handlers) {
        this.registrations.push(
          await bus.handle(handler.command, this.options.queueGroup, (payload: object, ctx: HandlerContext) => handler.invoke(payload, ctx)),
        );
      }
    } catch (error) {
      await this.stopAll();
      throw error;
    }
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.stopAll();
  }

  private async stopAll(): Promise<void> {
    const registrations = this.registrations;
    this.registrations = [];
    await Promise.all(registrations.map((r) => r.stop()));
  }

  private resolveBus(): Bus {
    try {
      // The app provides BUS in its own module, which this imported module cannot see by injection.
      return this.moduleRef.get<Bus>(BUS, { strict: false });
    } catch {
      throw new Error('MessagingModule: no provider for BUS; add { provide: BUS, useValue: bus } to the application module');
    }
  }

  private explore(): DiscoveredHandler[] {
    const bySubject = new Map<string, DiscoveredHandler>();
    const seen = new Set<object>();
    for (const wrapper of this.discovery.getProviders()) {
      const instance: unknown = wrapper.instance;
      if (wrapper.isAlias || instance === null || typeof instance !== 'object' || seen.has(instance)) continue;
      seen.add(instance);
      if (instance instanceof CommandHandlerExplorer && instance !== this && instance.options.queueGroup !== this.options.queueGroup) {
        throw new Error(
          `MessagingModule.forFeature() is imported with two queue groups (${this.options.queueGroup}, ${instance.options.queueGroup}) in one application; use one per service application`,
        );
      }
      const prototype = Object.getPrototypeOf(instance) as Record<string, unknown> | null;
      if (!prototype) continue;
      for (const methodName of this.scanner.getAllMethodNames(prototype)) {
        const method = prototype[methodName];
        if (typeof method !== 'function') continue;
        const command = this.reflector.get<AnyCommand | undefined>(COMMAND_HANDLER_METADATA, method as () => unknown);
        if (!command) continue;
        if (!wrapper.isDependencyTreeStatic()) {
          throw new Error(`${instance.constructor.name}.${methodName}: command handlers must live in singleton providers`);
        }
        const name = `${instance.constructor.name}.${methodName}`;
        const existing = bySubject.get(command.subject);
        if (existing) throw new Error(`Two handlers claim ${command.subject}: ${existing.name} and ${name}`);
        const bound = (method as (payload: object, ctx: HandlerContext) => Promise<unknown>).bind(instance);
        bySubject.set(command.subject, { command, name, invoke: bound });
      }
    }
    return [...bySubject.values()];
  }
}
