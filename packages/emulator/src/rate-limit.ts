// Per-index, per-operation token buckets at Pinecone's serverless defaults. A bucket holds one
// second of its rate, so short bursts pass and a sustained excess answers 429.

/** Requests per second by operation name, plus the upsert byte budget. `false` turns limits off. */
export interface RateLimits {
  fetch?: number;
  list?: number;
  describe_index_stats?: number;
  upsert?: number;
  /** Bytes of upsert request bodies per second. */
  upsert_bytes?: number;
  query?: number;
  update?: number;
  delete?: number;
  list_namespaces?: number;
  describe_namespace?: number;
}

export const DEFAULT_RATE_LIMITS: Readonly<RateLimits> = {
  fetch: 100,
  list: 200,
  describe_index_stats: 100,
  upsert: 100,
  upsert_bytes: 50 * 1024 * 1024,
};

class Bucket {
  private tokens: number;
  private last: number;
  readonly rate: number;

  constructor(rate: number, now: number) {
    this.rate = rate;
    this.tokens = rate;
    this.last = now;
  }

  take(n: number, now: number): boolean {
    this.tokens = Math.min(this.rate, this.tokens + ((now - this.last) * this.rate) / 1000);
    this.last = now;
    if (this.tokens < n) return false;
    this.tokens -= n;
    return true;
  }
}

export class RateLimiter {
  private limits: RateLimits | false;
  private readonly buckets = new Map<string, Bucket>();

  constructor(limits: RateLimits | false | undefined) {
    this.limits = limits === undefined ? { ...DEFAULT_RATE_LIMITS } : limits;
  }

  get config(): RateLimits | false {
    return this.limits;
  }

  set(limits: RateLimits | false): void {
    this.limits = limits;
    this.buckets.clear();
  }

  /**
   * Takes one request (and `bytes` for upserts) from the index's budget for `op`. Returns the
   * limit that was exceeded, or undefined when the request may go on.
   */
  admit(index: string, op: string, bytes = 0): { what: string; limit: number } | undefined {
    if (!this.limits) return undefined;
    const now = performance.now();
    const rate = (this.limits as Record<string, number | undefined>)[op];
    if (rate && rate > 0 && !this.bucket(`${index}\0${op}`, rate, now).take(1, now)) {
      return { what: `${op} requests per second`, limit: rate };
    }
    const byteRate = this.limits.upsert_bytes;
    if (op === 'upsert' && byteRate && byteRate > 0 && !this.bucket(`${index}\0upsert_bytes`, byteRate, now).take(bytes, now)) {
      return { what: 'upsert bytes per second', limit: byteRate };
    }
    return undefined;
  }

  private bucket(key: string, rate: number, now: number): Bucket {
    let b = this.buckets.get(key);
    if (!b || b.rate !== rate) {
      b = new Bucket(rate, now);
      this.buckets.set(key, b);
    }
    return b;
  }
}
