import { describe, expect, it } from '@jest/globals';
import { Injectable, Module, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { defineCommand, ErrorCode, type PayloadOf } from '@runyard/contracts';
import { IsString } from 'class-validator';
import { BUS, type HandlerContext } from './bus.js';
import { CommandHandler } from './command-handler.decorator.js';
import { InProcessBus } from './in-process-bus.js';
import { MessagingModule } from './messaging.module.js';

class GreetPayload {
  @IsString()
  name!: string;
}
const Greet = defineCommand<{ greeting: string; via: string }>()('greeter.cmd.greeting.create.v1', GreetPayload);
const Shout = defineCommand<{ greeting: string }>()('greeter.cmd.greeting.shout.v1', GreetPayload);

@Injectable()
class GreetingService {
  greet(name: string): string {
    return `Hello, ${name}`;
  }
}

@Injectable()
class GreetingHandler {
  constructor(private readonly greetings: GreetingService) {}

  @CommandHandler(Greet)
  greet(payload: PayloadOf<typeof Greet>, ctx: HandlerContext): Promise<{ greeting: string; via: string }> {
    return Promise.resolve({ greeting: this.greetings.greet(payload.name), via: ctx.subject });
  }

  // Leaves out ctx: a handler may ignore trailing arguments.
  @CommandHandler(Shout)
  shout(payload: PayloadOf<typeof Shout>): Promise<{ greeting: string }> {
    return Promise.resolve({ greeting: this.greetings.greet(payload.name).toUpperCase() });
  }
}

@Injectable()
class RivalGreetingHandler {
  @CommandHandler(Greet)
  greet(): Promise<{ greeting: string; via: string }> {
    return Promise.resolve({ greeting: 'rival', via: '' });
  }
}

async function boot(bus: InProcessBus, handlers: Array<new (...args: never[]) => object>): Promise<INestApplicationContext> {
  @Module({
    imports: [MessagingModule.forFeature({ queueGroup: 'greeter' })],
    providers: [{ provide: BUS, useValue: bus }, GreetingService, ...handlers],
  })
  class GreeterModule {}
  const app = await NestFactory.createApplicationContext(GreeterModule, { logger: false, abortOnError: false });
  await app.init();
  return app;
}

describe('MessagingModule', () => {
  it('subscribes every @CommandHandler method at bootstrap and unsubscribes at shutdown', async () => {
    const bus = new InProcessBus();
    const app = await boot(bus, [GreetingHandler]);

    await expect(bus.request(Greet, { name: 'Ada' })).resolves.toEqual({ greeting: 'Hello, Ada', via: Greet.subject });
    await expect(bus.request(Shout, { name: 'Ada' })).resolves.toEqual({ greeting: 'HELLO, ADA' });
    await expect(bus.request(Greet, { name: 42 } as unknown as GreetPayload)).rejects.toMatchObject({ code: ErrorCode.VALIDATION_FAILED });

    await app.close();
    await expect(bus.request(Greet, { name: 'Ada' })).rejects.toMatchObject({ code: ErrorCode.SERVICE_UNAVAILABLE });
    await bus.close();
  });

  it('refuses to boot when two handlers claim one subject', async () => {
    const bus = new InProcessBus();

    await expect(boot(bus, [GreetingHandler, RivalGreetingHandler])).rejects.toThrow(
      /Two handlers claim greeter\.cmd\.greeting\.create\.v1: (GreetingHandler\.greet and RivalGreetingHandler\.greet|RivalGreetingHandler\.greet and GreetingHandler\.greet)/,
    );
    await expect(bus.request(Shout, { name: 'Ada' })).rejects.toMatchObject({ code: ErrorCode.SERVICE_UNAVAILABLE });
    await bus.close();
  });
});
