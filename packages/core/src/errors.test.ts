import { describe, expect, it } from 'vitest';
import { EtlError, errorMessage } from './errors.ts';

describe('errorMessage', () => {
  it('reads the words where errors and client rejections keep them', () => {
    expect(errorMessage(new EtlError('TRANSIENT', 'broker down'))).toBe('broker down');
    expect(errorMessage(new TypeError(''))).toBe('TypeError');
    expect(errorMessage('plain text')).toBe('plain text');
    expect(errorMessage({ status: 409, message: "A rule named 'COMPATIBILITY' already exists." })).toBe("409: A rule named 'COMPATIBILITY' already exists.");
    expect(errorMessage({ code: 65535, reason: 'collection not found' })).toBe('65535: collection not found');
    expect(errorMessage({ status: 404, error: { code: 'NOT_FOUND', message: 'index x not found' } })).toBe('404: NOT_FOUND: index x not found');
    expect(errorMessage({ error: 'Unauthorized' })).toBe('Unauthorized');
  });

  it('shows a value without words as JSON, bounded, and never as "[object Object]"', () => {
    expect(errorMessage({ status: 503 })).toBe('503: {"status":503}');
    expect(errorMessage({ a: 1n })).toBe('{"a":"1"}');
    expect(errorMessage(undefined)).toBe('no error detail (undefined)');
    expect(errorMessage(null)).toBe('no error detail (null)');
    expect(errorMessage(42)).toBe('42');
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(errorMessage(cyclic)).toBe('Object without a message');
    expect(errorMessage({ big: 'x'.repeat(2000) }).length).toBeLessThanOrEqual(501);
    for (const v of [{}, [], new Map(), { error: {} }, Object.create(null) as object]) expect(errorMessage(v)).not.toContain('[object');
  });
});
