/**
 * Anti-entropy digests (after Cassandra's and Dynamo's repair): the key space of every namespace is
 * cut into hash buckets, and each side of a comparison keeps, per bucket, a commutative digest of the
 * keys it holds: their count and the sum of their 64-bit hashes (mod 2^64). Two sides agree on a
 * bucket when both numbers agree; only the buckets that disagree are read again key by key. Memory
 * is one cell per bucket whatever the number of records, and the order keys arrive in does not matter.
 */

/** 64-bit hash of a (namespace, id) pair as two 32-bit halves, into `out` (cyrb53's mixing, kept to 64 bits). */
export function hashKey(namespace: string, id: string, out: Uint32Array): void {
  let h1 = 0xdeadbeef ^ namespace.length;
  let h2 = 0x41c6ce57 ^ namespace.length;
  for (let i = 0; i < namespace.length; i++) {
    const ch = namespace.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  // The namespace's length went in first, so ("ab", "c") and ("a", "bc") differ.
  for (let i = 0; i < id.length; i++) {
    const ch = id.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  out[0] = h2 >>> 0;
  out[1] = h1 >>> 0;
}

/** Aim for about this many keys per bucket: a disagreeing bucket is re-read whole. */
export const KEYS_PER_BUCKET = 1024;
/** At most this many buckets in all (16 bytes each per side), whatever the size of the index. */
export const MAX_BUCKETS = 1 << 18;
const MAX_BITS_PER_NAMESPACE = 16;

interface NamespaceCells {
  index: number;
  base: number;
  bits: number;
}

/**
 * Which bucket a key falls in: per namespace, the top `bits` of its hash. Sized from the expected
 * number of keys per namespace, so a namespace of a few records has one bucket and one of a billion
 * has 2^16 (the global cap of `MAX_BUCKETS` wins over the per-bucket aim). A namespace not planned
 * (a target row of a namespace the log never had) gets one bucket when first seen.
 */
export class BucketLayout {
  readonly #namespaces = new Map<string, NamespaceCells>();
  readonly #names: string[] = [];
  #cells = 0;

  constructor(expected: ReadonlyMap<string, number>, maxBuckets = MAX_BUCKETS) {
    const wanted = [...expected].map(
      ([ns, n]) => [ns, Math.min(MAX_BITS_PER_NAMESPACE, Math.max(0, Math.ceil(Math.log2(Math.max(1, n) / KEYS_PER_BUCKET))))] as const,
    );
    // Over the cap: halve the largest namespaces' buckets until it fits (every namespace keeps one).
    const bits = new Map(wanted);
    let total = wanted.reduce((s, [, b]) => s + 2 ** b, 0);
    const byBits = [...bits.keys()].sort((a, b) => bits.get(b)! - bits.get(a)!);
    while (total > maxBuckets && bits.get(byBits[0]!)! > 0) {
      for (const ns of byBits) {
        const b = bits.get(ns)!;
        if (b === 0 || total <= maxBuckets) continue;
        bits.set(ns, b - 1);
        total -= 2 ** (b - 1);
      }
    }
    for (const [ns] of wanted) this.#add(ns, bits.get(ns)!);
  }

  #add(namespace: string, bits: number): NamespaceCells {
    const cells = { index: this.#names.length, base: this.#cells, bits };
    this.#namespaces.set(namespace, cells);
    this.#names.push(namespace);
    this.#cells += 2 ** bits;
    return cells;
  }

  get buckets(): number {
    return this.#cells;
  }

  /** The bucket of a key whose hash is `hash` (from `hashKey`). */
  bucketOf(namespace: string, hash: Uint32Array): number {
    const cells = this.#namespaces.get(namespace) ?? this.#add(namespace, 0);
    return cells.bits === 0 ? cells.base : cells.base + (hash[0]! >>> (32 - cells.bits));
  }

  /** The namespace a bucket belongs to. */
  namespaceOf(bucket: number): string {
    let lo = 0;
    let hi = this.#names.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.#namespaces.get(this.#names[mid]!)!.base <= bucket) lo = mid;
      else hi = mid - 1;
    }
    return this.#names[lo]!;
  }
}

/** Per bucket: how many keys, and the sum of their hashes mod 2^64. */
export class BucketDigests {
  readonly layout: BucketLayout;
  #count = new Float64Array(0);
  #lo = new Uint32Array(0);
  #hi = new Uint32Array(0);
  readonly #hash = new Uint32Array(2);

  constructor(layout: BucketLayout) {
    this.layout = layout;
    this.#grow();
  }

  #grow(): void {
    const need = this.layout.buckets;
    if (this.#count.length >= need) return;
    const size = Math.max(need, this.#count.length * 2);
    const count = new Float64Array(size);
    const lo = new Uint32Array(size);
    const hi = new Uint32Array(size);
    count.set(this.#count);
    lo.set(this.#lo);
    hi.set(this.#hi);
    this.#count = count;
    this.#lo = lo;
    this.#hi = hi;
  }

  /** Adds a key; answers its bucket. */
  add(namespace: string, id: string): number {
    hashKey(namespace, id, this.#hash);
    const b = this.layout.bucketOf(namespace, this.#hash);
    this.#grow();
    this.#count[b]!++;
    const lo = this.#lo[b]! + this.#hash[1]!;
    this.#lo[b] = lo >>> 0;
    this.#hi[b] = (this.#hi[b]! + this.#hash[0]! + (lo > 0xffffffff ? 1 : 0)) >>> 0;
    return b;
  }

  count(bucket: number): number {
    return this.#count[bucket] ?? 0;
  }

  /** Buckets (of this layout, which both sides must share) where the two sides' digests differ. */
  differing(other: BucketDigests): number[] {
    if (other.layout !== this.layout) throw new Error('digests of different layouts cannot be compared');
    const out: number[] = [];
    for (let b = 0; b < this.layout.buckets; b++) {
      if ((this.#count[b] ?? 0) !== other.count(b) || (this.#lo[b] ?? 0) !== (other.#lo[b] ?? 0) || (this.#hi[b] ?? 0) !== (other.#hi[b] ?? 0)) out.push(b);
    }
    return out;
  }
}
