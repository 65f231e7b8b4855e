/** A copy as plain JSON, the way jsonb gives it back: no class instances, no undefined fields. */
export function toPlainJson<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}
