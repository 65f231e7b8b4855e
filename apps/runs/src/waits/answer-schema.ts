import { DomainError, ErrorCode, type FieldError } from '@runyard/contracts';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';

/** Deepest nesting of objects and arrays a schema may have (Ajv compiles recursively: deep schemas overflow the stack). */
export const ANSWER_SCHEMA_MAX_DEPTH = 32;

/**
 * These schemas come from executors and the data from principals, so compiling and validating are
 * bounded where Ajv lets them be (its "untrusted schemas" advice; RequestWait bounds the size):
 *  - `allErrors: false`: validation stops at the first problem instead of collecting every one;
 *  - `loopRequired` / `loopEnum`: long `required` and `enum` lists become loops, not code per entry;
 *  - `inlineRefs: false`: a `$ref` is one function, not its target's code pasted at every use;
 *  - `$data: false`, no `loadSchema`: nothing in the data or from elsewhere becomes part of the schema
 *    (a remote `$ref` fails to compile);
 *  - `ownProperties`: only the data's own properties are looked at;
 *  - depth limited before compiling (ANSWER_SCHEMA_MAX_DEPTH).
 * Not strict, so keywords Ajv does not know are ignored rather than refused. What Ajv cannot bound —
 * a `pattern` that backtracks badly — stays within the 64 KiB an answer may have.
 *
 * A fresh Ajv per compile and no cache: Ajv keeps every schema it compiled for its lifetime (and
 * refuses a second schema with the same `$id`), and a schema is compiled at most once per request or
 * answer. Callers compile outside any transaction, so nothing is locked meanwhile.
 */
function compile(schema: Record<string, unknown>): ValidateFunction {
  if (depthOf(schema) > ANSWER_SCHEMA_MAX_DEPTH) throw new Error(`it is nested deeper than ${ANSWER_SCHEMA_MAX_DEPTH} levels`);
  const ajv = new Ajv({
    strict: false,
    allErrors: false,
    loopRequired: 20,
    loopEnum: 20,
    inlineRefs: false,
    $data: false,
    ownProperties: true,
    addUsedSchema: false,
    logger: false,
  });
  return ajv.compile(schema);
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

/** VALIDATION_FAILED, with the first problem found as a field error under `field`, unless `input` satisfies `schema`. */
export function assertSatisfies(schema: Record<string, unknown>, input: Record<string, unknown>, field: string): void {
  const validate = compile(schema);
  if (validate(input)) return;
  const errors = (validate.errors ?? []).map((error) => toFieldError(error, field));
  throw new DomainError(ErrorCode.VALIDATION_FAILED, `${field} does not satisfy the wait's schema`, { errors });
}

/** Nesting depth of a JSON value (a scalar is 0), iteratively: a deep value cannot overflow the stack here. */
function depthOf(value: unknown): number {
  let deepest = 0;
  const pending: [unknown, number][] = [[value, 0]];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [node, depth] = next;
    if (node === null || typeof node !== 'object') continue;
    deepest = Math.max(deepest, depth + 1);
    for (const child of Object.values(node)) pending.push([child, depth + 1]);
  }
  return deepest;
}

function toFieldError(error: ErrorObject, field: string): FieldError {
  const path = error.instancePath
    .split('/')
    .slice(1)
    .map((segment) => segment.replaceAll('~1', '/').replaceAll('~0', '~'));
  return { field: [field, ...path].join('.'), message: error.message ?? `fails ${error.keyword}` };
}
