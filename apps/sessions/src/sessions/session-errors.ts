import { DomainError, ErrorCode } from '@runyard/contracts';

/** Absent, in another tenant or owned by someone else: the caller cannot tell these apart. */
export function sessionNotFound(sessionId: string): DomainError {
  return new DomainError(ErrorCode.NOT_FOUND, `session ${sessionId} not found`);
}

export function sessionArchived(sessionId: string): DomainError {
  return new DomainError(ErrorCode.SESSION_ARCHIVED, `session ${sessionId} is archived`);
}
