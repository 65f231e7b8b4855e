import { type ClassType, DomainError, ErrorCode, type FieldError } from '@runyard/contracts';
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
    throw validationFailed([{ field: '', message: 'payload must be a JSON object' }]);
  }
  const instance = plainToInstance(payloadClass, plain);
  const problems = await validate(instance, {
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    // Values stay out of the error tree: they may hold user content that must not reach logs.
    validationError: { target: false, value: false },
  });
  if (problems.length > 0) throw validationFailed(flatten(problems, ''));
  return instance;
}

function validationFailed(errors: FieldError[]): DomainError {
  const summary = errors
    .slice(0, 3)
    .map((e) => (e.field ? `${e.field}: ${e.message}` : e.message))
    .join('; ');
  const more = errors.length > 3 ? ` (and ${errors.length - 3} more)` : '';
  return new DomainError(ErrorCode.VALIDATION_FAILED, `Invalid payload: ${summary}${more}`, { errors });
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
