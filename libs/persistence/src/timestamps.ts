import { DomainError, ErrorCode } from '@runyard/contracts';

/** RFC 3339 / ISO 8601 → Date; a time without an offset is UTC, like every timestamp on the wire. */
export function parseTimestamp(field: string, value: string): Date {
  const timeAt = value.search(/[T ]/i);
  const hasOffset = timeAt >= 0 && /(z|[+-]\d{2}(:?\d{2})?)$/i.test(value.slice(timeAt));
  const date = new Date(timeAt >= 0 && !hasOffset ? `${value}Z` : value);
  if (Number.isNaN(date.getTime())) {
    throw new DomainError(ErrorCode.VALIDATION_FAILED, `${field} must be an RFC 3339 timestamp`, {
      errors: [{ field: `query.${field}`, message: `${field} must be an RFC 3339 timestamp` }],
    });
  }
  return date;
}
