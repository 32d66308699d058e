import { describe, expect, it } from 'vitest';
import { EtlError } from '@p2m/core';
import { etlErrorOf } from './errors.ts';

describe('etlErrorOf', () => {
  it('hands back the EtlError a promise rejects with', async () => {
    const err = new EtlError('SPEC_INVALID', 'bad', { field: 'target.collection' });
    expect(await etlErrorOf(Promise.reject(err))).toBe(err);
  });

  it('fails when the promise resolves, or rejects with something else', async () => {
    await expect(etlErrorOf(Promise.resolve(7))).rejects.toThrow(/resolved with 7/);
    await expect(etlErrorOf(Promise.reject(new Error('plain')))).rejects.toThrow(/expected an EtlError, got Error: plain/);
  });
});
