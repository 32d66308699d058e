import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Bearer-token check in constant time: both sides are hashed first, so the comparison always runs
 * over 32 bytes whatever the length of what the client sent, and neither length nor content leaks.
 */
export class BearerAuth {
  readonly #expected: Buffer;

  constructor(token: string) {
    if (token.length === 0) throw new Error('the controller needs a non-empty API token (P2M_API_TOKEN)');
    this.#expected = digest(token);
  }

  /** True when `header` is `Bearer <the token>` (scheme case-insensitive, as RFC 6750 allows). */
  accepts(header: string | string[] | undefined): boolean {
    if (typeof header !== 'string') return false;
    const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
    const presented = match?.[1] ?? '';
    // Compare even when the header is malformed, so a bad header costs the same as a wrong token.
    const equal = timingSafeEqual(digest(presented), this.#expected);
    return equal && match !== null;
  }
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}
