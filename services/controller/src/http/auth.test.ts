import { describe, expect, it } from 'vitest';
import { BearerAuth } from './auth.ts';

describe('BearerAuth', () => {
  const auth = new BearerAuth('s3cret-token');

  it('accepts exactly the token as a bearer credential', () => {
    expect(auth.accepts('Bearer s3cret-token')).toBe(true);
    expect(auth.accepts('bearer s3cret-token')).toBe(true);
    expect(auth.accepts('Bearer  s3cret-token ')).toBe(true);
  });

  it('refuses everything else', () => {
    for (const header of [
      undefined,
      '',
      'Bearer',
      'Bearer ',
      'Bearer s3cret',
      'Bearer s3cret-token2',
      'Basic s3cret-token',
      's3cret-token',
      'Bearer s3cret-token extra',
    ]) {
      expect(auth.accepts(header), String(header)).toBe(false);
    }
    expect(auth.accepts(['Bearer s3cret-token', 'Bearer s3cret-token'])).toBe(false);
  });

  it('needs a token', () => {
    expect(() => new BearerAuth('')).toThrow(/token/);
  });
});
