import { type AnyCommand, type ClassType, type FieldError, invalidPayload, type PayloadOf } from '@runyard/contracts';
import { plainToInstance } from 'class-transformer';
import { validate, type ValidationError } from 'class-validator';

/**
 * Validates an inbound plain value against a payload class, the same way for every boundary (NATS
 * and in-process messages, HTTP bodies in the gateway): unknown fields are refused rather than
 * silently dropped, and every problem is reported with its dotted path (`body.reply_targets.0.channel`).
 * Resolves to the class instance; rejects with DomainError(VALIDATION_FAILED, …, { errors }).
 */
export async function validatePayload<T extends object>(payloadClass: ClassType<T>, plain: unknown): Promise<T> {
  if (plain === null || typeof plain !== 'object' || Array.isArray(plain)) {
    throw invalidPayload([{ field: '', message: 'payload must be a JSON object' }]);
  }
  const instance = plainToInstance(payloadClass, plain);
  const problems = await validate(instance, {
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    // Values stay out of the error tree: they may hold user content that must not reach logs.
    validationError: { target: false, value: false },
  });
  if (problems.length > 0) throw invalidPayload(flatten(problems, ''));
  return instance;
}

/**
 * A command's payload, validated by the command's own validator when it has one (a hot subject: same
 * rules and errors, a fraction of the cost; see CommandDef.validate), by its payload class otherwise.
 */
export async function validateCommandPayload<C extends AnyCommand>(command: C, plain: unknown): Promise<PayloadOf<C>> {
  if (command.validate !== undefined) return command.validate(plain) as PayloadOf<C>;
  return (await validatePayload(command.payload as ClassType<object>, plain)) as PayloadOf<C>;
}

function flatten(problems: ValidationError[], parent: string): FieldError[] {
  const out: FieldError[] = [];
  for (const problem of problems) {
    const field = joinPath(parent, problem.property);
    for (const message of Object.values(problem.constraints ?? {})) out.push({ field, message });
    if (problem.children && problem.children.length > 0) out.push(...flatten(problem.children, field));
  }
  return out;
}

function joinPath(parent: string, property: string | undefined): string {
  if (property === undefined || property === '') return parent;
  return parent ? `${parent}.${property}` : property;
}
