import { EtlError } from '@p2m/core';

/**
 * The EtlError `promise` rejects with, for a test to look at its code, field and hint. Throws (so
 * the test fails) when the promise resolves or rejects with anything else.
 */
export async function etlErrorOf(promise: Promise<unknown>): Promise<EtlError> {
  const outcome = await promise.then(
    (value: unknown) => ({ resolved: true as const, value }),
    (err: unknown) => ({ resolved: false as const, err }),
  );
  if (outcome.resolved) throw new Error(`expected an EtlError, but the promise resolved with ${String(outcome.value)}`);
  if (!(outcome.err instanceof EtlError)) throw new Error(`expected an EtlError, got ${String(outcome.err)}`, { cause: outcome.err });
  return outcome.err;
}
