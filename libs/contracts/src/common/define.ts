import { DomainError, ErrorCode, type FieldError } from './errors.js';

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

/**
 * A synchronous check of a command's payload, for hot subjects where validating with the payload class
 * (class-transformer + class-validator) costs too much. It accepts and refuses what the class does,
 * and refuses with `invalidPayload(errors)` carrying the same dotted field paths and messages. It may
 * return the payload as given (a plain object, not a class instance): handlers only read fields.
 */
export type PayloadValidator<P extends object> = (plain: unknown) => P;

export interface CommandDef<S extends string = string, P extends object = object, R = unknown> {
  readonly kind: 'command';
  readonly subject: S;
  readonly payload: ClassType<P>;
  /** Used instead of the payload class to validate, when given (see PayloadValidator). */
  readonly validate?: PayloadValidator<P>;
  /** Phantom: carries the reply type only. */
  readonly reply?: R;
}

export interface CommandOptions<P extends object> {
  readonly validate?: PayloadValidator<P>;
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

/** `defineCommand<Reply>()(subject, PayloadClass, { validate }?)` — curried so the reply type can be given explicitly. */
export function defineCommand<R>() {
  return <S extends string, P extends object>(subject: S, payload: ClassType<P>, options?: CommandOptions<P>): CommandDef<S, P, R> =>
    options?.validate === undefined ? { kind: 'command', subject, payload } : { kind: 'command', subject, payload, validate: options.validate };
}

export function defineEvent<S extends string, D extends object>(subject: S, data: ClassType<D>): EventDef<S, D> {
  return { kind: 'event', subject, data };
}

/**
 * The error of a refused payload, the same at every boundary: VALIDATION_FAILED, the first three
 * problems in the message (`Invalid payload: lines.3.stream: …`), all of them in `details.errors`.
 */
export function invalidPayload(errors: FieldError[]): DomainError {
  const summary = errors
    .slice(0, 3)
    .map((e) => (e.field ? `${e.field}: ${e.message}` : e.message))
    .join('; ');
  const more = errors.length > 3 ? ` (and ${errors.length - 3} more)` : '';
  return new DomainError(ErrorCode.VALIDATION_FAILED, `Invalid payload: ${summary}${more}`, { errors });
}
