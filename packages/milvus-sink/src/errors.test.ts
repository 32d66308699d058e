import { describe, expect, it } from 'vitest';
import { EtlError } from '@p2m/core';
import { checked, statusFailed, toEtlError, type FailureContext } from './errors.ts';

const write: FailureContext = { what: 'upsert', permanent: 'RECORD_REJECTED', collection: 'c' };
const grpcError = (code: number, message: string): Error => Object.assign(new Error(`${code} ${message}`), { code, details: message });

describe('statusFailed', () => {
  it('reads both error_code and code', () => {
    expect(statusFailed({ error_code: 'Success', code: 0 })).toBe(false);
    expect(statusFailed({ error_code: 'Success' })).toBe(false);
    expect(statusFailed(undefined)).toBe(false);
    // Milvus Lite: "Success" with a non-zero code is a failure.
    expect(statusFailed({ error_code: 'Success', code: 1100, reason: 'invalid parameter' })).toBe(true);
    expect(statusFailed({ error_code: 'UnexpectedError', code: 0 })).toBe(true);
    expect(statusFailed({ error_code: 6, code: 6 })).toBe(true);
  });
});

describe('toEtlError', () => {
  it.each([
    ['UNAVAILABLE', grpcError(14, 'UNAVAILABLE: No connection established. Last error: connect ECONNREFUSED')],
    ['DEADLINE_EXCEEDED', grpcError(4, 'DEADLINE_EXCEEDED: Deadline exceeded')],
    ['reset stream', grpcError(13, 'INTERNAL: Received RST_STREAM with code 2')],
    ['retriable status', { error_code: 'UnexpectedError', code: 5, reason: 'x', retriable: true }],
    ['not ready', { error_code: 'NotReadyServe', code: 1, reason: 'service not ready' }],
    ['memory quota', { error_code: 'MemoryQuotaExhausted', code: 9, reason: 'deny to write' }],
  ])('makes %s retriable', (_, failure) => {
    const err = toEtlError(failure, write);
    expect(err.retriable).toBe(true);
    expect(err.code).toBe('TARGET_UNAVAILABLE');
  });

  it('fails the job, with the fix, when Milvus Lite shows it serves writes on several threads at once', () => {
    // Milvus Lite 3.2.2's answer to a flush that raced another (code 1 is otherwise "not ready").
    const status = {
      extra_info: {},
      error_code: 'Success',
      reason: 'current_seq is monotonic; tried to set 2212 < 2414',
      code: 1,
      retriable: false,
      detail: '',
    };
    const err = toEtlError(status, { what: 'flushing "c"', permanent: 'TARGET_UNSUPPORTED', collection: 'c' });
    expect(err.retriable).toBe(false);
    expect(err.code).toBe('TARGET_UNSUPPORTED');
    expect(err.message).toMatch(/current_seq is monotonic/);
    expect(err.hint).toMatch(/--max-workers 1/);
    // The same code with another reason stays a passing condition.
    expect(toEtlError({ ...status, reason: 'service not ready' }, write).retriable).toBe(true);
  });

  it('reports rate limits as RATE_LIMITED', () => {
    const err = toEtlError({ error_code: 'RateLimit', code: 8, reason: 'rate limit exceeded[rate=10]' }, write);
    expect(err.code).toBe('RATE_LIMITED');
    expect(err.retriable).toBe(true);
    expect(toEtlError(grpcError(8, 'RESOURCE_EXHAUSTED: too many requests'), write).code).toBe('RATE_LIMITED');
  });

  it.each([
    ['Milvus Lite 3 data error', { error_code: 6, code: 6, reason: "VARCHAR field 'id' value length 65 exceeds max_length=64" }],
    ['Milvus Lite 2.5 data error', { error_code: 'Success', code: 65535, reason: 'the length(3) of float data should divide the dim(768)' }],
    ['Milvus parameter error', { error_code: 'IllegalArgument', code: 1100, reason: 'invalid parameter[expected=valid varchar]' }],
    ['SDK validation', new Error('Sparse vector index must be positive and less than 2^32-1: 4294967295')],
  ])('makes %s a permanent RECORD_REJECTED', (_, failure) => {
    const err = toEtlError(failure, write);
    expect(err.code).toBe('RECORD_REJECTED');
    expect(err.retriable).toBe(false);
  });

  it('does not blame the data for a missing collection, a bad token or an SDK crash', () => {
    const missing = toEtlError({ error_code: 'CollectionNotExists', code: 100, reason: "collection 'c' does not exist" }, write);
    expect([missing.code, missing.retriable]).toEqual(['TARGET_UNAVAILABLE', false]);
    expect(missing.hint).toMatch(/"c" does not exist/);
    const auth = toEtlError(grpcError(16, 'UNAUTHENTICATED: invalid token'), write);
    expect([auth.code, auth.retriable]).toEqual(['TARGET_UNAVAILABLE', false]);
    const crash = toEtlError(new TypeError("Cannot read properties of undefined (reading 'forEach')"), write);
    expect([crash.code, crash.retriable]).toEqual(['INTERNAL', false]);
  });

  it('uses the context code for other permanent failures and keeps EtlErrors', () => {
    const err = toEtlError({ error_code: 'IllegalArgument', code: 1100, reason: 'bad index params' }, { what: 'createIndex', permanent: 'TARGET_UNSUPPORTED' });
    expect(err.code).toBe('TARGET_UNSUPPORTED');
    expect(err.message).toBe('createIndex failed: bad index params (error_code IllegalArgument, code 1100)');
    const own = new EtlError('CANCELLED', 'stop');
    expect(toEtlError(own, write)).toBe(own);
  });
});

describe('checked', () => {
  it('passes a successful response and throws for a failed one', () => {
    const ok = { status: { error_code: 'Success', code: 0 }, data: [1] };
    expect(checked(ok, write)).toBe(ok);
    expect(() => checked({ status: { error_code: 'Success', code: 1100, reason: 'bad' } }, write)).toThrow(EtlError);
    // Some calls answer with the status itself.
    expect(() =>
      checked({ error_code: 'UnexpectedError', code: 1, reason: "collection 'x' already exists" }, { what: 'create', permanent: 'TARGET_UNSUPPORTED' }),
    ).toThrow(/already exists/);
  });
});
