/**
 * Binds a wire subject to its payload class and reply type. Publishers and handlers take the
 * definition object, never a bare string, so a wrong payload on a subject does not compile, and the
 * receiving side has the class it validates the payload with.
 *
 * Subject grammar (wire names — renaming one is a migration, never an edit):
 *   <service>.cmd.<entity>.<action>.v<N>   request/reply command or query (queue group per service)
 *   <service>.evt.<entity>.<event>.v<N>    fact published after commit (JetStream)
 */
export type ClassType<T> = new () => T;

export interface CommandDef<S extends string = string, P extends object = object, R = unknown> {
  readonly kind: 'command';
  readonly subject: S;
  readonly payload: ClassType<P>;
  /** Phantom: carries the reply type only. */
  readonly reply?: R;
}

export interface EventDef<S extends string = string, D extends object = object> {
  readonly kind: 'event';
  readonly subject: S;
  readonly data: ClassType<D>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a definition of any command
export type AnyCommand = CommandDef<string, any, any>;
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a definition of any event
export type AnyEvent = EventDef<string, any>;
export type PayloadOf<C> = C extends CommandDef<string, infer P, unknown> ? P : never;
export type ReplyOf<C> = C extends CommandDef<string, object, infer R> ? R : never;
export type DataOf<E> = E extends EventDef<string, infer D> ? D : never;

/** `defineCommand<Reply>()(subject, PayloadClass)` — curried so the reply type can be given explicitly. */
export function defineCommand<R>() {
  return <S extends string, P extends object>(subject: S, payload: ClassType<P>): CommandDef<S, P, R> => ({
    kind: 'command',
    subject,
    payload,
  });
}

export function defineEvent<S extends string, D extends object>(subject: S, data: ClassType<D>): EventDef<S, D> {
  return { kind: 'event', subject, data };
}
