// Writes float32 values as JSON numbers the way Pinecone does: the shortest decimal that reads
// back to the same float32 (upserting 0.4 fetches `0.4`, not `0.4000000059604645`), and of the
// shortest ones the closest to the value (ties to an even last digit), as Ryu does.
//
// "Reads back" is what every JSON client does with it: parse to the nearest double, then round
// to float32 (`Math.fround(JSON.parse(text))`, or storing it in a Float32Array). A decimal of p
// significant digits is D·10^j; when |j| <= 22 both D and 10^j are exact doubles, so `D / 10^-j`
// (or `D * 10^j`) is one correctly rounded operation: exactly the double a correct parser makes
// of the text (Clinger's fast path). Testing a candidate therefore costs one division and one
// `Math.fround`, with no string in between. The nearest p-digit decimal to v is floor or ceil of
// v·10^-j; if the nearest does not read back, only the other neighbour can (the rounding interval
// around v is one piece), so two tests answer "is there a p-digit decimal" exactly. That answer
// is monotone in p (append a zero), and 9 digits always suffice for a float32, so the shortest
// length is found by a search that tries 8, then 7 (most embedding values need 8 or 9), then
// halves below. Where v·10^-j lands so close to a half that its rounding error could decide the
// nearest, and where |j| > 22 or the value is subnormal (rare in vectors), exact BigInt arithmetic
// decides instead.

const P10 = Float64Array.from({ length: 23 }, (_, k) => 10 ** k); // exact up to 10^22

/**
 * For a biased float32 exponent e, values lie in [2^(e-127), 2^(e-126)), which holds at most one
 * power of ten: floor(log10 v) is E10_BASE[e], plus one when v >= E10_NEXT[e].
 */
const E10_BASE = new Int16Array(256);
const E10_NEXT = new Float64Array(256);
for (let e = 1; e < 255; e++) {
  const low = 2 ** (e - 127);
  let d = Math.floor(Math.log10(low));
  while (Number(`1e${d}`) > low) d--;
  while (Number(`1e${d + 1}`) <= low) d++;
  E10_BASE[e] = d;
  E10_NEXT[e] = Number(`1e${d + 1}`);
}

/** The ASCII digits of 0..99 and of 0..9999, packed little-endian, for one 16- or 32-bit store. */
const DIGITS2 = new Uint16Array(100);
for (let x = 0; x < 100; x++) DIGITS2[x] = (48 + Math.floor(x / 10)) | ((48 + (x % 10)) << 8);
const DIGITS4 = new Uint32Array(10000);
for (let x = 0; x < 10000; x++) DIGITS4[x] = DIGITS2[Math.floor(x / 100)]! | (DIGITS2[x % 100]! << 16);

/** A band around one half, wider than the rounding error of v·10^-j (< 1.2e-7 for 9 digits). */
const TIE_BAND = 3e-7;

/** Output buffer for JSON text: bytes plus a DataView over the same memory for 16/32-bit stores. */
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

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The decimal digits the last successful `fits` found: D, an integer of p digits (or 10^p). */
const found = new Int32Array(1);

/** Half the gap to the next float32 above, for each biased exponent of a normal float32. */
const HALF_ULP = Float64Array.from({ length: 256 }, (_, e) => 2 ** (Math.max(e, 1) - 151));

/**
 * Whether some p-digit decimal reads back as v (positive; its bits are `bits`, e10 =
 * floor(log10 v)); if so, `found[0]` holds the closest one. The general form of the walk in
 * `writeBits`, for values off its fast path.
 */
function fits(v: number, bits: number, e10: number, p: number): boolean {
  const j = e10 - p + 1;
  if (j > 0 || j < -22 || bits < 0x800000) return fitsOffFastPath(v, bits, j);
  const scale = P10[-j]!;
  const exp = bits >>> 23;
  const half = HALF_ULP[exp]!;
  const lo = (v - ((bits & 0x7fffff) === 0 && exp > 1 ? half / 2 : half)) * scale;
  return fitsScaled(v, bits, j, v * scale, lo, (v + half) * scale);
}

/**
 * `fits` with v and the ends of its rounding interval already scaled by 10^-j (x, lo, hi).
 *
 * v reads back from any decimal strictly inside (lo, hi), so a candidate integer is compared
 * with x, lo and hi. These carry a rounding error of at most ~1.2e-7 (9 digits, 2^-53
 * relative); a candidate that close to lo or hi, or a choice that close to a tie, goes to
 * `fitsNearEdges`, which decides exactly. Kept small so that it inlines.
 */
function fitsScaled(v: number, bits: number, j: number, x: number, lo: number, hi: number): boolean {
  const near = Math.floor(x + 0.5);
  if (near > lo + TIE_BAND && near < hi - TIE_BAND && Math.abs(x - near) < 0.5 - TIE_BAND) {
    found[0] = near;
    return true;
  }
  if (Math.floor(hi + TIE_BAND) < lo - TIE_BAND) return false; // no integer anywhere near
  return fitsNearEdges(v, bits, j, x, lo, hi);
}

/** `fits` for values of 10^p and more (j > 0), subnormals and exponents beyond 10^±22. */
function fitsOffFastPath(v: number, bits: number, j: number): boolean {
  if (j > 22 || j < -22 || bits < 0x800000) return fitsExact(v, bits, j);
  const exp = bits >>> 23;
  const half = HALF_ULP[exp]!;
  const scale = P10[j]!;
  const lo = (v - ((bits & 0x7fffff) === 0 && exp > 1 ? half / 2 : half)) / scale;
  return fitsNearEdges(v, bits, j, v / scale, lo, (v + half) / scale);
}

/** The careful half of `fits`: every candidate near an edge is parsed back, a near tie decided exactly. */
function fitsNearEdges(v: number, bits: number, j: number, x: number, lo: number, hi: number): boolean {
  const floor = Math.floor(x);
  const frac = x - floor;
  const near = frac < 0.5 ? floor : floor + 1;
  const far = frac < 0.5 ? floor + 1 : floor;
  const nearFits = near > lo - TIE_BAND && near < hi + TIE_BAND && (near > lo + TIE_BAND && near < hi - TIE_BAND ? true : readsBack(near, j, v));
  const farFits = far > lo - TIE_BAND && far < hi + TIE_BAND && (far > lo + TIE_BAND && far < hi - TIE_BAND ? true : readsBack(far, j, v));
  if (nearFits && farFits && Math.abs(frac - 0.5) <= TIE_BAND) {
    // Both read back and v is (nearly) half way: only exact arithmetic knows which is closer.
    found[0] = exactNearest(bits, j, floor);
    return true;
  }
  if (nearFits || farFits) {
    found[0] = nearFits ? near : far;
    return true;
  }
  return false;
}

/** Whether D·10^j parses (to a double, then float32) as v; |j| <= 22, so one exact operation. */
function readsBack(d: number, j: number, v: number): boolean {
  return Math.fround(j <= 0 ? d / P10[-j]! : d * P10[j]!) === v;
}

/** `fits` for exponents without an exact power of ten: candidates from BigInt, checked by parsing. */
function fitsExact(v: number, bits: number, j: number): boolean {
  const { num, den } = scaledRational(bits, j);
  const floor = num / den;
  const near = nearestOf(num, den, floor);
  const far = near === floor ? floor + 1n : floor;
  for (const d of [near, far]) {
    if (d > 0n && Math.fround(Number(`${d}e${j}`)) === v) {
      found[0] = Number(d);
      return true;
    }
  }
  return false;
}

/** v·10^-j as an exact fraction num/den, from the float32 bits of v. */
function scaledRational(bits: number, j: number): { num: bigint; den: bigint } {
  const exp = (bits >>> 23) & 0xff;
  const mant = BigInt((bits & 0x7fffff) | (exp === 0 ? 0 : 0x800000));
  const e2 = (exp === 0 ? 1 : exp) - 150;
  let num = e2 >= 0 ? mant << BigInt(e2) : mant;
  let den = e2 >= 0 ? 1n : 1n << BigInt(-e2);
  if (j >= 0) den *= 10n ** BigInt(j);
  else num *= 10n ** BigInt(-j);
  return { num, den };
}

/** floor or floor + 1, whichever is closer to num/den; an exact tie goes to the even one. */
function nearestOf(num: bigint, den: bigint, floor: bigint): bigint {
  const twice = 2n * (num - floor * den);
  if (twice < den) return floor;
  if (twice > den) return floor + 1n;
  return floor % 2n === 0n ? floor : floor + 1n;
}

function exactNearest(bits: number, j: number, floor: number): number {
  const { num, den } = scaledRational(bits, j);
  return Number(nearestOf(num, den, BigInt(floor)));
}

/** floor(log10 v) for a subnormal v, where the exponent table does not apply. */
function decimalExponent(v: number): number {
  let d = Math.floor(Math.log10(v));
  if (v < Number(`1e${d}`)) d--;
  else if (v >= Number(`1e${d + 1}`)) d++;
  return d;
}

/**
 * Writes the float32 whose bit pattern is `bits` at `pos`; returns the new position.
 * Needs up to 23 bytes of room ("-100000000000000000000" plus the stores that pad with zeros).
 */
export function writeFloat32Bits(bits: number, out: JsonOut, pos: number): number {
  return writeBits(bits, out.bytes, out.view, pos);
}

function writeBits(bits: number, bytes: Uint8Array, view: DataView, pos: number): number {
  bytes[pos] = 45; // '-', kept only for negative values
  pos += bits >>> 31;
  const abs = bits & 0x7fffffff;
  if (abs === 0) {
    bytes[pos] = 48;
    return pos + 1;
  }
  const exp = abs >>> 23;
  if (exp === 0xff) {
    // NaN and Infinity cannot be stored (validation refuses them) and have no JSON spelling.
    bytes[pos] = 110;
    bytes[pos + 1] = 117;
    bytes[pos + 2] = 108;
    bytes[pos + 3] = 108;
    return pos + 4;
  }
  u32[0] = abs;
  const v = f32[0]!;
  let e10 = exp === 0 ? decimalExponent(v) : E10_BASE[exp]! + (v >= E10_NEXT[exp]! ? 1 : 0);

  // The shortest p (see the top of the file): 9 digits always do; most embedding values need 7
  // or 8, and each digit fewer is ten times less likely, so walk down from 8.
  let digits = 0;
  let p = 9;
  const j8 = e10 - 7;
  if (j8 <= 0 && j8 >= -22 && abs >= 0x800000) {
    // Scale once to 8 digits, then by tenths: the error this adds stays far inside the band.
    const scale = P10[-j8]!;
    const half = HALF_ULP[exp]!;
    let x = v * scale;
    let lo = (v - ((abs & 0x7fffff) === 0 && exp > 1 ? half / 2 : half)) * scale;
    let hi = (v + half) * scale;
    if (fitsScaled(v, abs, j8, x, lo, hi)) {
      p = 8;
      digits = found[0]!;
      while (p > 1) {
        x *= 0.1;
        lo *= 0.1;
        hi *= 0.1;
        if (!fitsScaled(v, abs, e10 - p + 2, x, lo, hi)) break;
        digits = found[0]!;
        p--;
      }
    } else {
      fits(v, abs, e10, 9);
      digits = found[0]!;
    }
  } else if (fits(v, abs, e10, 8)) {
    do {
      digits = found[0]!;
      p--;
    } while (p > 1 && fits(v, abs, e10, p - 1));
  } else {
    fits(v, abs, e10, 9);
    digits = found[0]!;
  }
  if (digits >= P10[p]!) {
    // Rounded up to 10^p: one digit more, i.e. the next power of ten.
    digits /= 10;
    e10++;
  }
  while (p > 1 && digits % 10 === 0) {
    digits /= 10;
    p--;
  }

  // Number#toString's layout: plain for 1e-6 <= |v| < 1e21, else d.ddde±x.
  const pointPos = e10 + 1; // digits before the decimal point
  if (pointPos > 0 && pointPos <= 21) {
    if (p <= pointPos) {
      writeDigits(digits, p, bytes, view, pos);
      pos += p;
      for (let k = p; k < pointPos; k++) bytes[pos++] = 48;
      return pos;
    }
    writeDigits(digits, p, bytes, view, pos);
    for (let k = pos + p; k > pos + pointPos; k--) bytes[k] = bytes[k - 1]!;
    bytes[pos + pointPos] = 46; // .
    return pos + p + 1;
  }
  if (pointPos <= 0 && pointPos > -6) {
    view.setUint32(pos, 0x30302e30, true); // "0.00", then "0000": the zeros the value needs
    view.setUint32(pos + 4, 0x30303030, true);
    pos += 2 - pointPos;
    writeDigits(digits, p, bytes, view, pos);
    return pos + p;
  }
  writeDigits(digits, p, bytes, view, pos + 1);
  bytes[pos] = bytes[pos + 1]!;
  if (p > 1) {
    bytes[pos + 1] = 46;
    pos += p + 1;
  } else pos += 1;
  bytes[pos++] = 101; // e
  bytes[pos++] = pointPos > 0 ? 43 : 45; // + or -
  const x = Math.abs(pointPos - 1);
  if (x >= 10) {
    view.setUint16(pos, DIGITS2[x]!, true);
    return pos + 2;
  }
  bytes[pos] = 48 + x;
  return pos + 1;
}

/** Writes the p decimal digits of d (an integer below 10^p) at pos, four at a time. */
function writeDigits(d: number, p: number, bytes: Uint8Array, view: DataView, pos: number): void {
  let q = pos + p;
  while (p >= 4) {
    // d / 10^4 by a multiplication: the added half keeps floor exact for any d below 2^53.
    const t = Math.floor((d + 0.5) * 1e-4);
    q -= 4;
    view.setUint32(q, DIGITS4[d - t * 10000]!, true);
    d = t;
    p -= 4;
  }
  if (p === 3) {
    const t = Math.floor((d + 0.5) * 0.01);
    view.setUint16(q - 2, DIGITS2[d - t * 100]!, true);
    bytes[q - 3] = 48 + t;
  } else if (p === 2) view.setUint16(q - 2, DIGITS2[d]!, true);
  else if (p === 1) bytes[q - 1] = 48 + d;
}

/** Bytes `writeFloat32Array` may need for `count` values. */
export function float32ArrayJsonBound(count: number): number {
  return 2 + count * 24;
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

const scratch = jsonOut(40);

/** The JSON text of one float32 value (`Math.fround(value)`). */
export function float32ToJson(value: number): string {
  f32[0] = value;
  const end = writeFloat32Bits(u32[0]!, scratch, 0);
  return String.fromCharCode(...scratch.bytes.subarray(0, end));
}

/**
 * The double that `float32ToJson(value)` parses to: a JSON.stringify of it prints the same
 * shortest text, for answers built as objects rather than written by hand.
 */
export function float32Number(value: number): number {
  return Number(float32ToJson(value));
}
