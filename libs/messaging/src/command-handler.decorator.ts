import { SetMetadata } from '@nestjs/common';
import type { AnyCommand } from '@runyard/contracts';
import type { CommandHandlerFn } from './bus.js';

export const COMMAND_HANDLER_METADATA = 'runyard:command-handler';

/**
 * Marks a provider method as the handler of a command: `MessagingModule.forFeature()` finds it at
 * boot and subscribes it in the service's queue group. The method's payload and reply types are
 * checked against the command definition at compile time.
 *
 *   @CommandHandler(CreateSession)
 *   async create(payload: PayloadOf<typeof CreateSession>, ctx: HandlerContext): Promise<SessionView>
 */
export function CommandHandler<C extends AnyCommand>(command: C) {
  const setMetadata = SetMetadata(COMMAND_HANDLER_METADATA, command);
  // Only `value` is checked (not `set`, which would make it contravariant), so a method may leave out
  // trailing parameters such as ctx that it does not use.
  return (target: object, key: string | symbol, descriptor: { value?: CommandHandlerFn<C> }): void => {
    setMetadata(target, key, descriptor as TypedPropertyDescriptor<unknown>);
  };
}
