import { dlqTopic, type DlqEntry, type LogClient } from '@p2m/core';
import { hashKey } from './buckets.ts';

/**
 * The job's dead-letter queue as verification needs it: is this record in it, and how many distinct
 * records per namespace. A record refused again (a replay, a batch redone after a crash) is counted
 * once. Kept as sorted 64-bit key hashes (12 bytes an entry), not as entries: a DLQ of millions
 * stays small.
 */
export class DlqIndex {
  readonly #hi: Uint32Array;
  readonly #lo: Uint32Array;
  readonly #ns: Uint32Array;
  readonly #names: string[];
  /** Distinct entries whose record verification found absent from the target. */
  readonly #absent: Uint8Array;
  readonly sample: DlqEntry[];
  readonly #hash = new Uint32Array(2);

  /** Sorted, distinct hashes (`DlqIndexBuilder.build` makes them); `ns` indexes `names`. */
  constructor(hi: Uint32Array, lo: Uint32Array, ns: Uint32Array, names: string[], sample: DlqEntry[]) {
    this.#hi = hi;
    this.#lo = lo;
    this.#ns = ns;
    this.#names = names;
    this.#absent = new Uint8Array(hi.length);
    this.sample = sample;
  }

  static fromEntries(entries: Iterable<DlqEntry>, sampleSize = 100): DlqIndex {
    const builder = new DlqIndexBuilder(sampleSize);
    for (const e of entries) builder.add(e);
    return builder.build();
  }

  /** Reads the job's DLQ topic to its end (an absent topic is an empty DLQ). */
  static async read(log: LogClient, jobId: string, sampleSize = 100): Promise<DlqIndex> {
    const builder = new DlqIndexBuilder(sampleSize);
    const topic = dlqTopic(jobId);
    // The adapter's admin is the client's shared one: not closed here.
    if (!(await log.admin().topicExists(topic))) return builder.build();
    await log.scanToEnd(topic, (m) => {
      if (!m.value) return;
      builder.add(JSON.parse(m.value.toString('utf8')) as DlqEntry);
    });
    return builder.build();
  }

  get size(): number {
    return this.#hi.length;
  }

  #find(namespace: string, id: string): number {
    hashKey(namespace, id, this.#hash);
    const hi = this.#hash[0]!;
    const lo = this.#hash[1]!;
    let a = 0;
    let b = this.#hi.length - 1;
    while (a <= b) {
      const m = (a + b) >>> 1;
      const mh = this.#hi[m]!;
      const ml = this.#lo[m]!;
      if (mh === hi && ml === lo) return m;
      if (mh < hi || (mh === hi && ml < lo)) a = m + 1;
      else b = m - 1;
    }
    return -1;
  }

  has(namespace: string, id: string): boolean {
    return this.#find(namespace, id) >= 0;
  }

  /** Notes that a DLQ'd record is not in the target (so it counts once however many copies said so). */
  markAbsent(namespace: string, id: string): void {
    const i = this.#find(namespace, id);
    if (i >= 0) this.#absent[i] = 1;
  }

  /** Distinct DLQ'd records per namespace: all of them, and those absent from the target. */
  counts(): Map<string, { dlq: number; absent: number }> {
    const out = new Map<string, { dlq: number; absent: number }>();
    for (let i = 0; i < this.#hi.length; i++) {
      const ns = this.#names[this.#ns[i]!]!;
      let c = out.get(ns);
      if (!c) out.set(ns, (c = { dlq: 0, absent: 0 }));
      c.dlq++;
      c.absent += this.#absent[i]!;
    }
    return out;
  }
}

export class DlqIndexBuilder {
  #hi = new Uint32Array(1024);
  #lo = new Uint32Array(1024);
  #ns = new Uint32Array(1024);
  #n = 0;
  readonly #names: string[] = [];
  readonly #nameIndex = new Map<string, number>();
  readonly #sample: DlqEntry[] = [];
  readonly #sampled = new Set<string>();
  readonly #sampleSize: number;
  readonly #hash = new Uint32Array(2);

  constructor(sampleSize: number) {
    this.#sampleSize = sampleSize;
  }

  add(entry: DlqEntry): void {
    if (this.#n === this.#hi.length) {
      const grow = (a: Uint32Array<ArrayBuffer>): Uint32Array<ArrayBuffer> => {
        const b = new Uint32Array(a.length * 2);
        b.set(a);
        return b;
      };
      this.#hi = grow(this.#hi);
      this.#lo = grow(this.#lo);
      this.#ns = grow(this.#ns);
    }
    hashKey(entry.namespace, entry.id, this.#hash);
    let ns = this.#nameIndex.get(entry.namespace);
    if (ns === undefined) {
      ns = this.#names.length;
      this.#names.push(entry.namespace);
      this.#nameIndex.set(entry.namespace, ns);
    }
    this.#hi[this.#n] = this.#hash[0]!;
    this.#lo[this.#n] = this.#hash[1]!;
    this.#ns[this.#n] = ns;
    this.#n++;
    // The sample keeps each record's latest entry (a record refused again may have a new reason).
    const key = `${entry.namespace}\u0000${entry.id}`;
    if (this.#sampled.has(key)) {
      const at = this.#sample.findIndex((e) => e.namespace === entry.namespace && e.id === entry.id);
      if (at >= 0) this.#sample[at] = entry;
    } else if (this.#sample.length < this.#sampleSize) {
      this.#sample.push(entry);
      this.#sampled.add(key);
    }
  }

  build(): DlqIndex {
    const n = this.#n;
    const order = new Uint32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    const hi = this.#hi;
    const lo = this.#lo;
    order.sort((a, b) => (hi[a]! !== hi[b]! ? hi[a]! - hi[b]! : lo[a]! - lo[b]!));
    const outHi = new Uint32Array(n);
    const outLo = new Uint32Array(n);
    const outNs = new Uint32Array(n);
    let m = 0;
    for (let k = 0; k < n; k++) {
      const i = order[k]!;
      if (m > 0 && outHi[m - 1] === hi[i] && outLo[m - 1] === lo[i]) continue;
      outHi[m] = hi[i]!;
      outLo[m] = lo[i]!;
      outNs[m] = this.#ns[i]!;
      m++;
    }
    return new DlqIndex(outHi.slice(0, m), outLo.slice(0, m), outNs.slice(0, m), this.#names, this.#sample);
  }
}
