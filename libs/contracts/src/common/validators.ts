import { registerDecorator, ValidateIf, type ValidationArguments, type ValidationOptions } from 'class-validator';

/** A JSON-serialisable plain object (not an array, not null) of at most `maxBytes` when serialised. */
export function IsJsonObject(maxBytes: number, options?: ValidationOptions): PropertyDecorator {
  return (target: object, propertyName: string | symbol) => {
    registerDecorator({
      name: 'isJsonObject',
      target: target.constructor,
      propertyName: String(propertyName),
      constraints: [maxBytes],
      options,
      validator: {
        validate(value: unknown): boolean {
          if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
          return Buffer.byteLength(JSON.stringify(value), 'utf8') <= maxBytes;
        },
        defaultMessage(args: ValidationArguments): string {
          return `${args.property} must be a JSON object of at most ${String(args.constraints[0])} bytes`;
        },
      },
    });
  };
}

/** Refuses the property when `other` is given too: "one of the two, not both". */
export function IsExclusiveWith(other: string, options?: ValidationOptions): PropertyDecorator {
  return (target: object, propertyName: string | symbol) => {
    registerDecorator({
      name: 'isExclusiveWith',
      target: target.constructor,
      propertyName: String(propertyName),
      constraints: [other],
      options,
      validator: {
        validate(value: unknown, args: ValidationArguments): boolean {
          return value === undefined || (args.object as Record<string, unknown>)[other] === undefined;
        },
        defaultMessage(args: ValidationArguments): string {
          return `give ${args.property} or ${String(args.constraints[0])}, not both`;
        },
      },
    });
  };
}

/**
 * Optional, but never null: `@IsOptional()` skips null too, which would hand `null` to code that
 * expects a value (a NOT NULL column, an array to map). Use it wherever null is not a meaning.
 */
export function IsOptionalNotNull(options?: ValidationOptions): PropertyDecorator {
  return ValidateIf((_object: object, value: unknown) => value !== undefined, options);
}

/** At most `maxBytes` when serialised as JSON (for values whose parts are each bounded, but not their sum). */
export function MaxJsonBytes(maxBytes: number, options?: ValidationOptions): PropertyDecorator {
  return (target: object, propertyName: string | symbol) => {
    registerDecorator({
      name: 'maxJsonBytes',
      target: target.constructor,
      propertyName: String(propertyName),
      constraints: [maxBytes],
      options,
      validator: {
        validate(value: unknown): boolean {
          return value === undefined || Buffer.byteLength(JSON.stringify(value), 'utf8') <= maxBytes;
        },
        defaultMessage(args: ValidationArguments): string {
          return `${args.property} must be at most ${String(args.constraints[0])} bytes as JSON`;
        },
      },
    });
  };
}
