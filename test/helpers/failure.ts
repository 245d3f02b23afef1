import { expect } from 'vitest';
import { FerryError } from '../../src/core/errors.js';

/** The FerryError `work` rejects with; fails the test when it resolves, or rejects with anything else. */
export async function failureOf(work: Promise<unknown>, expected = 'the call to fail, but it succeeded'): Promise<FerryError> {
  try {
    await work;
  } catch (err) {
    expect(err).toBeInstanceOf(FerryError);
    return err as FerryError;
  }
  throw new Error(`expected ${expected}`);
}
