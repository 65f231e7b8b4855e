import { Injectable, type PipeTransform } from '@nestjs/common';
import { DomainError, ErrorCode } from '@runyard/contracts';
import { isUUID } from 'class-validator';

/**
 * A malformed session id answers 404 exactly like a foreign one: a client learns nothing from the
 * difference, and an id is opaque to it anyway.
 */
@Injectable()
export class SessionIdPipe implements PipeTransform<string, string> {
  transform(value: string): string {
    if (!isUUID(value)) throw new DomainError(ErrorCode.NOT_FOUND, 'session not found');
    return value.toLowerCase();
  }
}
