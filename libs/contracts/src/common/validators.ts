import { registerDecorator, type ValidationArguments, type ValidationOptions } from 'class-validator';

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
