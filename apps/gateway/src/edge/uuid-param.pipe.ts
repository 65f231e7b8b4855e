import { Injectable, type PipeTransform } from '@nestjs/common';
import { DomainError, ErrorCode } from '@runyard/contracts';
import { isUUID } from 'class-validator';

/**
 * A malformed resource id answers 404 exactly like a foreign one: a client learns nothing from the
 * difference, and an id is opaque to it anyway. Use one per resource: `new UuidParamPipe('session')`.
 */
@Injectable()
export class UuidParamPipe implements PipeTransform<string, string> {
  constructor(private readonly resource: string) {}

  transform(value: string): string {
    if (!isUUID(value)) throw new DomainError(ErrorCode.NOT_FOUND, `${this.resource} not found`);
    return value.toLowerCase();
  }
}

export const SessionIdPipe = new UuidParamPipe('session');
export const RunIdPipe = new UuidParamPipe('run');
export const WaitIdPipe = new UuidParamPipe('wait');
