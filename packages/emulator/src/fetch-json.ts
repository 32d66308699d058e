// The body of fetch-shaped responses, written by hand one chunk of records at a time. Used
// inline and by the format worker, which receives the same plan with the vector memory shared.

import { float32ArrayJsonBound, jsonOutOf, writeFloat32Array } from './float-json.ts';

/** What one chunk of a fetch response contains, with the dense values referenced, not copied. */
export interface ChunkPlan {
  /** Text written before the first record ('{"vectors":{' for the first chunk). */
  head: string;
  /** Whether the first record follows an earlier one (needs a comma). */
  continues: boolean;
  dim: number;
  /** JSON text (quoted, escaped) of each record id. */
  ids: string[];
  /** Float32 bit patterns holding each record's values (shared slab memory), or null. */
  bits: (Uint32Array | null)[];
  /** Id of each record's slab (see `slabId`), for workers, which know slabs by id; -1 for none. */
  slabIds: number[];
  offsets: number[];
  sparseIndices: (Uint32Array | null)[];
  sparseValues: (Float32Array | null)[];
  /** Metadata JSON text, or null when the record has none. */
  metadata: (string | null)[];
}

const slabIds = new WeakMap<Uint32Array, number>();
let nextSlabId = 0;

/** A stable id for a slab view, so that a worker can be sent the slab once and then refer to it. */
export function slabId(bits: Uint32Array): number {
  let id = slabIds.get(bits);
  if (id === undefined) {
    id = ++nextSlabId;
    slabIds.set(bits, id);
  }
  return id;
}

export function chunkBound(plan: ChunkPlan): number {
  let bound = plan.head.length + 8;
  const valuesBound = plan.dim > 0 ? float32ArrayJsonBound(plan.dim) : 2;
  for (let i = 0; i < plan.ids.length; i++) {
    bound += 2 * plan.ids[i]!.length + 64 + valuesBound;
    const ix = plan.sparseIndices[i];
    if (ix) bound += 48 + ix.length * 11 + float32ArrayJsonBound(ix.length);
    const meta = plan.metadata[i];
    if (meta !== null && meta !== undefined) bound += 16 + meta.length * 3;
  }
  return bound;
}

/** Writes the chunk into `buf` (at least `chunkBound(plan)` bytes); returns its length. */
export function writeChunk(plan: ChunkPlan, buf: Buffer): number {
  const out = jsonOutOf(buf);
  let p = plan.head ? buf.write(plan.head, 0, 'latin1') : 0;
  for (let i = 0; i < plan.ids.length; i++) {
    if (i > 0 || plan.continues) buf[p++] = 44;
    const id = plan.ids[i]!;
    p += buf.write(id, p, 'latin1');
    p += buf.write(':{"id":', p, 'latin1');
    p += buf.write(id, p, 'latin1');
    p += buf.write(',"values":', p, 'latin1');
    const bits = plan.bits[i];
    if (bits && plan.dim > 0) p = writeFloat32Array(bits, plan.offsets[i]!, plan.dim, out, p);
    else p += buf.write('[]', p, 'latin1');
    const ix = plan.sparseIndices[i];
    const sv = plan.sparseValues[i];
    if (ix && sv) {
      p += buf.write(',"sparseValues":{"indices":[', p, 'latin1');
      for (let j = 0; j < ix.length; j++) {
        if (j > 0) buf[p++] = 44;
        p += buf.write(String(ix[j]), p, 'latin1');
      }
      p += buf.write('],"values":', p, 'latin1');
      p = writeFloat32Array(new Uint32Array(sv.buffer, sv.byteOffset, sv.length), 0, sv.length, out, p);
      buf[p++] = 125;
    }
    const meta = plan.metadata[i];
    if (meta !== null && meta !== undefined) {
      p += buf.write(',"metadata":', p, 'latin1');
      p += buf.write(meta, p, 'utf8');
    }
    buf[p++] = 125;
  }
  return p;
}
