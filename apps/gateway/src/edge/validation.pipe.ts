import { Injectable, type ArgumentMetadata, type PipeTransform } from '@nestjs/common';
import type { ClassType } from '@runyard/contracts';
import { validatePayload } from '@runyard/messaging';

const PLAIN_TYPES = new Set<unknown>([String, Number, Boolean, Array, Object]);

/**
 * Global: every `@Body()`, `@Query()` and `@Param()` typed with a DTO class is validated exactly like
 * a bus payload (`validatePayload`: whitelist, unknown fields refused, dotted field paths) and
 * replaced by the class instance, so `@Type(() => Number)` turns query strings into numbers.
 * Failures are DomainError(VALIDATION_FAILED) with field errors → 400 problem. Primitive params
 * (ids) and custom decorators (`@Caller()`) pass through; their own pipes check them.
 */
@Injectable()
export class DtoValidationPipe implements PipeTransform {
  async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type === 'custom' || !metadata.metatype || PLAIN_TYPES.has(metadata.metatype)) return value;
    // No body at all is validated as an empty object, so required fields are reported by name.
    return validatePayload(metadata.metatype as ClassType<object>, value ?? {});
  }
}
