import { DomainError, ErrorCode, type FieldError } from '@runyard/contracts';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';

/** At most this many problems are reported for one answer. */
const MAX_REPORTED_ERRORS = 20;

/**
 * A fresh validator per schema: Ajv caches every schema it compiled for its lifetime (and refuses a
 * second schema with the same `$id`), and these schemas come from executors, one per input request.
 * Not strict, so JSON Schema keywords Ajv does not know are ignored rather than refused; remote `$ref`s
 * are never fetched (no loadSchema), they fail to compile.
 */
function compile(schema: Record<string, unknown>): ValidateFunction {
  return new Ajv({ strict: false, allErrors: true, logger: false }).compile(schema);
}

/** VALIDATION_FAILED unless `schema` is a JSON Schema Ajv can use; checked when an input request opens. */
export function assertUsableSchema(schema: Record<string, unknown>, field: string): void {
  try {
    compile(schema);
  } catch (error) {
    const message = `not a usable JSON Schema: ${error instanceof Error ? error.message : String(error)}`;
    throw new DomainError(ErrorCode.VALIDATION_FAILED, `${field} is ${message}`, { errors: [{ field, message }] });
  }
}

/** VALIDATION_FAILED, with each problem as a field error under `field`, unless `input` satisfies `schema`. */
export function assertSatisfies(schema: Record<string, unknown>, input: Record<string, unknown>, field: string): void {
  const validate = compile(schema);
  if (validate(input)) return;
  const errors = (validate.errors ?? []).slice(0, MAX_REPORTED_ERRORS).map((error) => toFieldError(error, field));
  throw new DomainError(ErrorCode.VALIDATION_FAILED, `${field} does not satisfy the wait's schema`, { errors });
}

function toFieldError(error: ErrorObject, field: string): FieldError {
  const path = error.instancePath
    .split('/')
    .slice(1)
    .map((segment) => segment.replaceAll('~1', '/').replaceAll('~0', '~'));
  return { field: [field, ...path].join('.'), message: error.message ?? `fails ${error.keyword}` };
}
