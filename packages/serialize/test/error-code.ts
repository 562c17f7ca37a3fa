// Shared by the serialize tests: run `fn` and return the code of the SerializationError it throws
// (undefined when it returns), failing the test if it throws anything else.
import { expect } from 'vitest';
import { SerializationError } from '../src/errors.js';

export function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SerializationError);
    return (err as SerializationError).code;
  }
  return undefined;
}
