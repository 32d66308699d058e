// Writes float32 values as JSON numbers that parse back (as doubles) to exactly the float32 value.
//
// Pinecone stores vector values as float32; a client that wrote `Math.fround(x)` must read back
// the very same double. V8's Number#toString gives that, but at ~120 ns a value it caps a 768-d
// fetch near 10k records/s on one core, which would make the emulator the bottleneck of every
// benchmark. A normal float32 is M·2^-k with 2^23 <= M < 2^24, so its decimal digits are those
// of M·5^k. We multiply M by the 24 leading digits of 5^k held as three base-1e8 limbs (every
// partial product is exact in a double), round to 17 significant digits and print them.
// 17 correctly rounded digits are within half an ulp of any double, and the truncated tail of 5^k
// moves the result by less than 1e-23 relative, far inside that margin, so JSON.parse returns the
// value unchanged. The spelling is not always the shortest one; JSON does not ask for that.
// Subnormals and integers >= 2^23 are rare in vectors and go through Number#toString.

const B = 100_000_000;
const INV_B = 1e-8;
const MAX_K = 150;

/** 5^k ≈ (a0·B² + a1·B + a2)·10^sh with a0 of exactly 8 digits: LEAD5[3k..3k+2], SHIFT5[k] = sh. */
const LEAD5 = new Float64Array(3 * (MAX_K + 1));
const SHIFT5 = new Int32Array(MAX_K + 1);
for (let k = 0; k <= MAX_K; k++) {
  const digits = (5n ** BigInt(k)).toString();
  const lead = digits.slice(0, 24).padEnd(24, '0');
  LEAD5[3 * k] = Number(lead.slice(0, 8));
  LEAD5[3 * k + 1] = Number(lead.slice(8, 16));
  LEAD5[3 * k + 2] = Number(lead.slice(16, 24));
  SHIFT5[k] = digits.length - 24;
}

const POW10 = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8];
const INV_POW10 = POW10.map((p) => 1 / p);

/** The four ASCII digits of 0..9999 packed little-endian, for one unaligned 32-bit store. */
const DIGITS4 = new Uint32Array(10000);
for (let x = 0; x < 10000; x++) {
  const s = String(x).padStart(4, '0');
  DIGITS4[x] = s.charCodeAt(0) | (s.charCodeAt(1) << 8) | (s.charCodeAt(2) << 16) | (s.charCodeAt(3) << 24);
}

/** Output buffer for JSON text: bytes plus a DataView over the same memory for 32-bit stores. */
export interface JsonOut {
  bytes: Uint8Array;
  view: DataView;
}

export function jsonOut(size: number): JsonOut {
  return jsonOutOf(new Uint8Array(size));
}

export function jsonOutOf(bytes: Uint8Array): JsonOut {
  return { bytes, view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength) };
}

/** Writes the 17 digits of qHi·1e8 + qLo (qHi has 9 digits) at pos. */
function write17(qHi: number, qLo: number, bytes: Uint8Array, view: DataView, pos: number): void {
  const lead = Math.floor((qHi + 0.5) * INV_B);
  bytes[pos] = 48 + lead;
  const mid = qHi - lead * B;
  let hi = Math.floor((mid + 0.5) * 1e-4);
  view.setUint32(pos + 1, DIGITS4[hi]!, true);
  view.setUint32(pos + 5, DIGITS4[mid - hi * 10000]!, true);
  hi = Math.floor((qLo + 0.5) * 1e-4);
  view.setUint32(pos + 9, DIGITS4[hi]!, true);
  view.setUint32(pos + 13, DIGITS4[qLo - hi * 10000]!, true);
}

/**
 * Writes the float32 whose bit pattern is `bits` at `pos`; returns the new position.
 * Needs up to 26 bytes of room.
 */
export function writeFloat32Bits(bits: number, out: JsonOut, pos: number): number {
  return writeBits(bits, out.bytes, out.view, pos);
}

function writeBits(bits: number, bytes: Uint8Array, view: DataView, pos: number): number {
  const exp = (bits >>> 23) & 0xff;
  // Branch-free where the data decides (sign, digit counts): mispredictions cost more than the work.
  bytes[pos] = 45; // '-', kept only for negative values
  pos += bits >>> 31;
  if (exp === 0 || exp >= 150) {
    if ((bits & 0x7fffffff) === 0) {
      bytes[pos] = 48;
      return pos + 1;
    }
    if (exp === 0xff) {
      // NaN and Infinity cannot be stored (validation refuses them) and have no JSON spelling.
      bytes[pos] = 110; bytes[pos + 1] = 117; bytes[pos + 2] = 108; bytes[pos + 3] = 108;
      return pos + 4;
    }
    f32[0] = 0;
    u32[0] = bits & 0x7fffffff;
    return writeAscii(String(f32[0]!), bytes, pos);
  }
  const mant = (bits & 0x7fffff) | 0x800000;
  const k = 150 - exp;

  // mant·(a0·B² + a1·B + a2) = c0·B³ + r1·B² + r2·B + (dropped); c0 has 6 to 8 digits.
  const li = 3 * k;
  let t = mant * LEAD5[li + 2]!;
  let c = Math.floor(t * INV_B);
  let r = t - c * B;
  if (r < 0) c--;
  else if (r >= B) c++;
  t = mant * LEAD5[li + 1]! + c;
  c = Math.floor(t * INV_B);
  let r2 = t - c * B;
  if (r2 < 0) { c--; r2 += B; } else if (r2 >= B) { c++; r2 -= B; }
  t = mant * LEAD5[li]! + c;
  const c0 = Math.floor(t * INV_B);
  let r1 = t - c0 * B;
  let t0 = c0;
  if (r1 < 0) { t0--; r1 += B; } else if (r1 >= B) { t0++; r1 -= B; }

  const len0 = 6 + +(t0 >= 1e6) + +(t0 >= 1e7);
  let pointPos = len0 + 24 + SHIFT5[k]! - k; // digits before the decimal point
  // Keep 17 significant digits: drop s = len0 - 1 digits of r2, rounding half up.
  const s = len0 - 1;
  const d = POW10[s]!;
  const inv = INV_POW10[s]!;
  const up = Math.floor((r2 + (d >> 1) + 0.5) * inv);
  const r1h = Math.floor((r1 + 0.5) * inv);
  const scale = POW10[8 - s]!;
  let qLo = (r1 - r1h * d) * scale + up;
  let qHi = t0 * scale + r1h;
  if (qLo >= B) { qLo -= B; qHi++; }
  if (qHi >= 1e9) { qHi = B; qLo = 0; pointPos++; } // 99..9 rounded up to 100..0

  if (pointPos <= 0 && pointPos >= -5) {
    view.setUint32(pos, 0x30302e30, true); // "0.00", then "0000": the zeros the value needs
    view.setUint32(pos + 4, 0x30303030, true);
    pos += 2 - pointPos;
    write17(qHi, qLo, bytes, view, pos);
    pos += 17;
    while (bytes[pos - 1] === 48) pos--;
    return pos;
  }
  if (pointPos > 0) {
    // |v| < 2^24, so pointPos <= 8: shift the fraction digits right to make room for the point.
    write17(qHi, qLo, bytes, view, pos);
    const end = pos + 17;
    for (let i = end; i > pos + pointPos; i--) bytes[i] = bytes[i - 1]!;
    bytes[pos + pointPos] = 46;
    pos = end + 1;
    while (bytes[pos - 1] === 48) pos--;
    if (bytes[pos - 1] === 46) pos--;
    return pos;
  }
  // d.ddde-x, as JS spells magnitudes below 1e-6.
  write17(qHi, qLo, bytes, view, pos + 1);
  bytes[pos] = bytes[pos + 1]!;
  bytes[pos + 1] = 46;
  pos += 18;
  while (bytes[pos - 1] === 48) pos--;
  if (bytes[pos - 1] === 46) pos--;
  bytes[pos++] = 101; // e
  bytes[pos++] = 45; // -
  return writeAscii(String(1 - pointPos), bytes, pos);
}

function writeAscii(s: string, bytes: Uint8Array, pos: number): number {
  for (let i = 0; i < s.length; i++) bytes[pos++] = s.charCodeAt(i);
  return pos;
}

/** Bytes `writeFloat32Array` may need for `count` values. */
export function float32ArrayJsonBound(count: number): number {
  return 2 + count * 27;
}

/**
 * Writes `[v0,v1,...]` for `count` float32 values read as bit patterns from `bits`
 * (a Uint32Array view of float32 data) starting at `start`.
 */
export function writeFloat32Array(bits: Uint32Array, start: number, count: number, out: JsonOut, pos: number): number {
  const bytes = out.bytes;
  const view = out.view;
  bytes[pos++] = 91; // [
  const end = start + count;
  if (count > 0) pos = writeBits(bits[start]!, bytes, view, pos);
  for (let i = start + 1; i < end; i++) {
    bytes[pos++] = 44; // ,
    pos = writeBits(bits[i]!, bytes, view, pos);
  }
  bytes[pos++] = 93; // ]
  return pos;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
const scratch = jsonOut(40);

/** The JSON text of one float32 value (`Math.fround(value)`). */
export function float32ToJson(value: number): string {
  f32[0] = value;
  const end = writeFloat32Bits(u32[0]!, scratch, 0);
  return String.fromCharCode(...scratch.bytes.subarray(0, end));
}
