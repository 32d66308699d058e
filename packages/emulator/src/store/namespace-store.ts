// One namespace of one index: the records, stored compactly.
//
// Dense values live in Float32Array slabs (one slot per record, `dim` floats a slot), never in JS
// number arrays: 1M × 768-d costs 3 GB of slabs and little else. Slabs are SharedArrayBuffers so
// that a format worker can read values without copying them. Slabs start small and double up
// to SLAB_SLOTS so that a namespace holding a handful of test records does not reserve megabytes.
// Metadata is kept as the JSON text the client sent (validated), which is what fetch writes back.
// `list` needs ids in byte order; new ids are appended to a side list and merged into the sorted
// array on the first `list` after writes, so a bulk load pays one sort, not one insert per id.

export interface SparseVector {
  indices: Uint32Array;
  values: Float32Array;
}

/** A validated record as the store and the write-ahead log see it. */
export interface StoredRecord {
  id: string;
  /** Dense values (length = index dimension), or null on a sparse index. */
  values: Float32Array | null;
  sparse: SparseVector | null;
  /** Metadata JSON text, or null when the record has none. */
  metadataJson: string | null;
}

const FIRST_SLAB_SLOTS = 64;
const SLAB_SLOTS = 4096;
/** Slots held by the doubling slabs 64, 128, ..., 2048. */
const DOUBLING_SLOTS = SLAB_SLOTS - FIRST_SLAB_SLOTS;
const DOUBLING_SLABS = Math.log2(SLAB_SLOTS / FIRST_SLAB_SLOTS);

function slabOf(slot: number): number {
  if (slot < DOUBLING_SLOTS) return 31 - Math.clz32((slot >> 6) + 1);
  return DOUBLING_SLABS + Math.floor((slot - DOUBLING_SLOTS) / SLAB_SLOTS);
}

function slabStart(slab: number): number {
  if (slab <= DOUBLING_SLABS) return FIRST_SLAB_SLOTS * (2 ** slab - 1);
  return DOUBLING_SLOTS + (slab - DOUBLING_SLABS) * SLAB_SLOTS;
}

function slabSlots(slab: number): number {
  return slab < DOUBLING_SLABS ? FIRST_SLAB_SLOTS * 2 ** slab : SLAB_SLOTS;
}

export class NamespaceStore {
  readonly dim: number;
  /** The metadata schema it was created with (create_namespace), as JSON text. */
  schema: string | null = null;
  private readonly slabs: Float32Array[] = [];
  private readonly slabBits: Uint32Array[] = [];
  private readonly slotIds: (string | undefined)[] = [];
  private readonly sparse: (SparseVector | undefined)[] = [];
  private readonly metadata: (string | undefined)[] = [];
  private readonly idToSlot = new Map<string, number>();
  private readonly freeSlots: number[] = [];
  private sorted: string[] = [];
  private added: string[] = [];
  private removedSinceSort = false;
  /** Approximate bytes held by live records (for log compaction decisions). */
  liveBytes = 0;
  /** Bumped by every write: a reader that let writes run since it looked can tell. */
  generation = 0;

  constructor(dim: number) {
    this.dim = dim;
  }

  get count(): number {
    return this.idToSlot.size;
  }

  has(id: string): boolean {
    return this.idToSlot.has(id);
  }

  upsert(record: StoredRecord): void {
    this.generation++;
    let slot = this.idToSlot.get(record.id);
    if (slot === undefined) {
      slot = this.freeSlots.pop() ?? this.slotIds.length;
      if (slot === this.slotIds.length) {
        this.slotIds.push(undefined);
        this.sparse.push(undefined);
        this.metadata.push(undefined);
      }
      this.idToSlot.set(record.id, slot);
      this.slotIds[slot] = record.id;
      this.added.push(record.id);
    } else {
      this.liveBytes -= this.recordBytes(slot);
    }
    if (this.dim > 0) {
      const slab = this.ensureSlab(slot);
      const offset = (slot - slabStart(slab)) * this.dim;
      if (record.values) this.slabs[slab]!.set(record.values, offset);
      else this.slabs[slab]!.fill(0, offset, offset + this.dim);
    }
    this.sparse[slot] = record.sparse ?? undefined;
    this.metadata[slot] = record.metadataJson ?? undefined;
    this.liveBytes += this.recordBytes(slot);
  }

  delete(id: string): boolean {
    const slot = this.idToSlot.get(id);
    if (slot === undefined) return false;
    this.generation++;
    this.liveBytes -= this.recordBytes(slot);
    this.idToSlot.delete(id);
    this.slotIds[slot] = undefined;
    this.sparse[slot] = undefined;
    this.metadata[slot] = undefined;
    this.freeSlots.push(slot);
    this.removedSinceSort = true;
    return true;
  }

  clear(): void {
    this.generation++;
    this.slabs.length = 0;
    this.slabBits.length = 0;
    this.slotIds.length = 0;
    this.sparse.length = 0;
    this.metadata.length = 0;
    this.idToSlot.clear();
    this.freeSlots.length = 0;
    this.sorted = [];
    this.added = [];
    this.removedSinceSort = false;
    this.liveBytes = 0;
  }

  /** The record's slot, or undefined; slots are only valid until the next write. */
  slotOf(id: string): number | undefined {
    return this.idToSlot.get(id);
  }

  idAt(slot: number): string {
    return this.slotIds[slot]!;
  }

  /** Where the dense values of a slot are: bit patterns (for JSON) and floats share the memory. */
  valuesAt(slot: number): { floats: Float32Array; bits: Uint32Array; offset: number } {
    const slab = slabOf(slot);
    return { floats: this.slabs[slab]!, bits: this.slabBits[slab]!, offset: (slot - slabStart(slab)) * this.dim };
  }

  sparseAt(slot: number): SparseVector | undefined {
    return this.sparse[slot];
  }

  metadataAt(slot: number): string | undefined {
    return this.metadata[slot];
  }

  /** A copy of the record (for update, query and the log snapshot). */
  recordAt(slot: number): StoredRecord {
    let values: Float32Array | null = null;
    if (this.dim > 0) {
      const { floats, offset } = this.valuesAt(slot);
      values = floats.slice(offset, offset + this.dim);
    }
    return { id: this.slotIds[slot]!, values, sparse: this.sparse[slot] ?? null, metadataJson: this.metadata[slot] ?? null };
  }

  /** Live slots in storage order. */
  *slots(): IterableIterator<number> {
    for (const slot of this.idToSlot.values()) yield slot;
  }

  /**
   * Up to `limit` ids starting with `prefix`, in byte order, strictly after `after` when given.
   * `more` tells whether another matching id follows.
   */
  list(prefix: string, after: string | undefined, limit: number): { ids: string[]; more: boolean } {
    const sorted = this.sortedIds();
    let i = after !== undefined && after >= prefix ? upperBound(sorted, after) : lowerBound(sorted, prefix);
    const ids: string[] = [];
    while (i < sorted.length && ids.length < limit) {
      const id = sorted[i]!;
      if (!id.startsWith(prefix)) break;
      ids.push(id);
      i++;
    }
    const more = i < sorted.length && sorted[i]!.startsWith(prefix);
    return { ids, more };
  }

  private sortedIds(): string[] {
    if (this.added.length === 0 && !this.removedSinceSort) return this.sorted;
    // Ids are ASCII, so UTF-16 code-unit order (the default sort) is the byte order Pinecone uses.
    const added = this.added.sort();
    const old = this.sorted;
    const merged: string[] = new Array(Math.min(old.length + added.length, this.idToSlot.size));
    let n = 0;
    let i = 0;
    let j = 0;
    let last: string | undefined;
    while (i < old.length || j < added.length) {
      let id: string;
      if (j >= added.length || (i < old.length && old[i]! <= added[j]!)) id = old[i++]!;
      else id = added[j++]!;
      if (id === last || !this.idToSlot.has(id)) continue;
      merged[n++] = id;
      last = id;
    }
    merged.length = n;
    this.sorted = merged;
    this.added = [];
    this.removedSinceSort = false;
    return merged;
  }

  private ensureSlab(slot: number): number {
    const slab = slabOf(slot);
    while (this.slabs.length <= slab) {
      const floats = new Float32Array(new SharedArrayBuffer(slabSlots(this.slabs.length) * this.dim * 4));
      this.slabs.push(floats);
      this.slabBits.push(new Uint32Array(floats.buffer));
    }
    return slab;
  }

  private recordBytes(slot: number): number {
    const sparse = this.sparse[slot];
    return this.slotIds[slot]!.length + 16 + this.dim * 4 + (sparse ? sparse.indices.length * 8 : 0) + (this.metadata[slot]?.length ?? 0);
  }
}

function lowerBound(sorted: string[], key: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function upperBound(sorted: string[], key: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! <= key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
