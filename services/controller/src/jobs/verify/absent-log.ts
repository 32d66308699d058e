import { hashKey } from './buckets.ts';

/** Why a record of the log is not in the target. */
export const Absent = {
  /** In the DLQ already (the loader refused it, or an earlier verification wrote it there). */
  InDlq: 1,
  /** `id` mode: another namespace's record holds its id; the DLQ entry was there already. */
  Collision: 2,
  /** `id` mode: as above, and this verification wrote the DLQ entry. */
  CollisionWritten: 3,
  Missing: 4,
} as const;
export type AbsentKind = (typeof Absent)[keyof typeof Absent];

/**
 * Records absent from the target, one entry per copy of the log (12 bytes: a 64-bit hash of the
 * key, its namespace, why), sorted and made distinct at the end: a record sent twice is counted once.
 */
export class AbsentLog {
  #hi = new Uint32Array(256);
  #lo = new Uint32Array(256);
  #ns = new Uint32Array(256);
  #kind = new Uint8Array(256);
  #n = 0;
  readonly #names: string[] = [];
  readonly #index = new Map<string, number>();
  readonly #hash = new Uint32Array(2);

  add(namespace: string, id: string, kind: AbsentKind): void {
    if (this.#n === this.#hi.length) this.#grow();
    let ns = this.#index.get(namespace);
    if (ns === undefined) {
      ns = this.#names.length;
      this.#names.push(namespace);
      this.#index.set(namespace, ns);
    }
    hashKey(namespace, id, this.#hash);
    this.#hi[this.#n] = this.#hash[0]!;
    this.#lo[this.#n] = this.#hash[1]!;
    this.#ns[this.#n] = ns;
    this.#kind[this.#n] = kind;
    this.#n++;
  }

  #grow(): void {
    const size = this.#n * 2;
    const hi = new Uint32Array(size);
    const lo = new Uint32Array(size);
    const ns = new Uint32Array(size);
    const kind = new Uint8Array(size);
    hi.set(this.#hi);
    lo.set(this.#lo);
    ns.set(this.#ns);
    kind.set(this.#kind);
    [this.#hi, this.#lo, this.#ns, this.#kind] = [hi, lo, ns, kind];
  }

  /** Distinct records per namespace, by why they are absent. */
  distinct(): Map<string, Map<AbsentKind, number>> {
    const n = this.#n;
    const hi = this.#hi;
    const lo = this.#lo;
    const order = new Uint32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    order.sort((a, b) => (hi[a]! !== hi[b]! ? hi[a]! - hi[b]! : lo[a]! - lo[b]!));
    const out = new Map<string, Map<AbsentKind, number>>();
    for (let k = 0; k < n; k++) {
      const i = order[k]!;
      const p = k > 0 ? order[k - 1]! : -1;
      if (p >= 0 && hi[p] === hi[i] && lo[p] === lo[i]) continue;
      const ns = this.#names[this.#ns[i]!]!;
      let kinds = out.get(ns);
      if (!kinds) out.set(ns, (kinds = new Map()));
      const kind = this.#kind[i]! as AbsentKind;
      kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
    }
    return out;
  }
}
