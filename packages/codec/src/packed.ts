import { endianness } from 'node:os';

/**
 * Packed little-endian arrays: how the record schema carries dense vectors, sparse values (float32)
 * and sparse indices (uint32). A typed array's bytes are the wire bytes on little-endian hosts, so
 * encoding is a view and decoding is one copy; big-endian hosts take the DataView path.
 */
const LITTLE_ENDIAN_HOST = endianness() === 'LE';

export const UINT32_MAX = 0xffff_ffff;

export function packFloat32(values: Float32Array): Buffer {
  if (LITTLE_ENDIAN_HOST) return Buffer.from(values.buffer, values.byteOffset, values.byteLength);
  const out = Buffer.allocUnsafe(values.length * 4);
  for (let i = 0; i < values.length; i++) out.writeFloatLE(values[i]!, i * 4);
  return out;
}

/**
 * Always a copy, 4-byte aligned (the input usually sits unaligned in a larger buffer). Vectors under
 * 4 KB (up to 1,024 dimensions) are copied into Node's shared Buffer pool, whose slices are 8-byte
 * aligned, instead of an ArrayBuffer of their own each: one ArrayBuffer per record made the garbage
 * collector a third of the controller's time reconciling 768-d records (it tracks every one).
 */
export function unpackFloat32(bytes: Uint8Array): Float32Array {
  if (bytes.length % 4 !== 0) throw new RangeError(`packed float32 length ${bytes.length} is not a multiple of 4`);
  if (LITTLE_ENDIAN_HOST) {
    const copy = Buffer.allocUnsafe(bytes.length);
    copy.set(bytes);
    if (copy.byteOffset % 4 === 0) return new Float32Array(copy.buffer, copy.byteOffset, bytes.length / 4);
    return new Float32Array(new Uint8Array(bytes).buffer);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(bytes.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}

/** Callers validate first: `Uint32Array` would silently wrap negative or oversized indices. */
export function packUint32(values: ArrayLike<number>): Buffer {
  if (LITTLE_ENDIAN_HOST) {
    const packed = Uint32Array.from(values as ArrayLike<number>);
    return Buffer.from(packed.buffer, packed.byteOffset, packed.byteLength);
  }
  const out = Buffer.allocUnsafe(values.length * 4);
  for (let i = 0; i < values.length; i++) out.writeUInt32LE(values[i]!, i * 4);
  return out;
}

export function unpackUint32(bytes: Uint8Array): number[] {
  if (bytes.length % 4 !== 0) throw new RangeError(`packed uint32 length ${bytes.length} is not a multiple of 4`);
  const n = bytes.length / 4;
  const out = new Array<number>(n);
  if (LITTLE_ENDIAN_HOST) {
    const aligned = new Uint32Array(new Uint8Array(bytes).buffer);
    for (let i = 0; i < n; i++) out[i] = aligned[i]!;
    return out;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < n; i++) out[i] = view.getUint32(i * 4, true);
  return out;
}
