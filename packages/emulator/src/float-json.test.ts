import { describe, expect, it } from 'vitest';
import { float32Number, float32ToJson, jsonOut, writeFloat32Array } from './float-json.ts';
import { Prng } from './prng.ts';

/**
 * The answer worked out the slow way, independently of the writer: for p = 1..9 digits, the
 * p-digit decimals around v (from toExponential, and one either side) that read back as v; of
 * the shortest ones the closest, by exact arithmetic, ties to the even one.
 */
function shortestReference(v: number): { digits: bigint; exp: number } {
  const exact = exactRational(v);
  for (let p = 1; p <= 9; p++) {
    const [mantissa, e] = v.toExponential(p - 1).split('e') as [string, string];
    const center = BigInt(mantissa.replace('.', ''));
    const j = Number(e) - (p - 1);
    let best: { digits: bigint; exp: number; dist: { num: bigint; den: bigint } } | undefined;
    for (const d of [center - 1n, center, center + 1n]) {
      if (d <= 0n || Math.fround(Number(`${d}e${j}`)) !== v) continue;
      const dist = distance(d, j, exact);
      const cmp = best ? compare(dist, best.dist) : -1;
      if (cmp < 0 || (cmp === 0 && d % 2n === 0n)) best = { digits: d, exp: j, dist };
    }
    if (best) {
      let { digits, exp } = best;
      while (digits % 10n === 0n) {
        digits /= 10n;
        exp++;
      }
      return { digits, exp };
    }
  }
  throw new Error(`no 9-digit decimal reads back as ${v}`);
}

function exactRational(v: number): { num: bigint; den: bigint } {
  let den = 1n;
  let x = v;
  while (!Number.isInteger(x)) {
    x *= 2;
    den *= 2n;
  }
  return { num: BigInt(x), den };
}

function distance(d: bigint, j: number, v: { num: bigint; den: bigint }): { num: bigint; den: bigint } {
  // |d·10^j - num/den| as a fraction.
  const scale = 10n ** BigInt(Math.abs(j));
  const num = j >= 0 ? d * scale * v.den - v.num : d * v.den - v.num * scale;
  return { num: num < 0n ? -num : num, den: j >= 0 ? v.den : v.den * scale };
}

function compare(a: { num: bigint; den: bigint }, b: { num: bigint; den: bigint }): number {
  const l = a.num * b.den;
  const r = b.num * a.den;
  return l < r ? -1 : l > r ? 1 : 0;
}

/** The decimal a JSON number spells: its significant digits and the exponent of the last one. */
function decimalOf(text: string): { digits: bigint; exp: number } {
  const m = /^-?(\d+)(?:\.(\d+))?(?:e([-+]\d+))?$/.exec(text);
  if (!m) throw new Error(`not a JSON number: ${text}`);
  let digits = BigInt(`${m[1]}${m[2] ?? ''}`);
  let exp = Number(m[3] ?? 0) - (m[2]?.length ?? 0);
  if (digits === 0n) return { digits, exp: 0 };
  while (digits % 10n === 0n) {
    digits /= 10n;
    exp++;
  }
  return { digits, exp };
}

function mismatches(values: Iterable<number>): string[] {
  const wrong: string[] = [];
  for (const value of values) {
    const v = Math.fround(value);
    if (!Number.isFinite(v) || v === 0) continue;
    const text = float32ToJson(v);
    if (!Object.is(Math.fround(JSON.parse(text) as number), v)) {
      wrong.push(`${v} written as ${text}, which reads back as ${Math.fround(JSON.parse(text) as number)}`);
      continue;
    }
    const want = shortestReference(Math.abs(v));
    const got = decimalOf(text);
    if (got.digits !== want.digits || got.exp !== want.exp) wrong.push(`${v} written as ${text}, want ${want.digits}e${want.exp}`);
  }
  return wrong;
}

function* randomBitPatterns(seed: number, n: number): Generator<number> {
  const prng = new Prng(seed);
  const bits = new Uint32Array(1);
  const f = new Float32Array(bits.buffer);
  for (let i = 0; i < n; i++) {
    bits[0] = prng.nextUint32();
    yield f[0]!;
  }
}

function* around(centers: Iterable<number>, ulps: number): Generator<number> {
  const bits = new Uint32Array(1);
  const f = new Float32Array(bits.buffer);
  for (const c of centers) {
    f[0] = c;
    const b = bits[0]!;
    for (let k = -ulps; k <= ulps; k++) {
      bits[0] = b + k;
      yield f[0]!;
    }
  }
}

describe('float32 JSON writer', () => {
  it('writes what Pinecone writes: [0.5, 0.4], not 0.4000000059604645', () => {
    const out = jsonOut(64);
    const end = writeFloat32Array(new Uint32Array(Float32Array.from([0.5, 0.4]).buffer), 0, 2, out, 0);
    expect(Buffer.from(out.bytes.subarray(0, end)).toString()).toBe('[0.5,0.4]');
    expect(JSON.parse(Buffer.from(out.bytes.subarray(0, end)).toString())).toEqual([0.5, 0.4]);
  });

  it('writes the shortest decimal that reads back as the float32, the closest of those', () => {
    expect(mismatches(randomBitPatterns(123, 40_000))).toEqual([]);
  });

  it('is right for typical embedding values', () => {
    const prng = new Prng(7);
    const values = Array.from({ length: 40_000 }, () => (prng.next() * 2 - 1) * 10 ** (-prng.next() * 4));
    expect(mismatches(values)).toEqual([]);
  });

  it('is right next to every power of ten and of two, and at the float32 extremes', () => {
    const tens = Array.from({ length: 85 }, (_, k) => Number(`1e${k - 45}`));
    const twos = Array.from({ length: 277 }, (_, k) => 2 ** (k - 149));
    expect(mismatches(around([...tens, ...twos, 3.4028234663852886e38, 1.1754943508222875e-38], 3))).toEqual([]);
  });

  it('settles near-ties exactly, to the even digit', () => {
    // 1677722.75 lies half way between 1677722.7 and 1677722.8, and both read back as it.
    expect(float32ToJson(1677722.75)).toBe('1677722.8');
    expect(float32ToJson(1677722.25)).toBe('1677722.2');
    expect(mismatches(around([1677722.75, 1677722.25, 3355443.5, 13421773], 40))).toEqual([]);
  });

  it('spells boundary values as JSON numbers, in the layout of Number#toString', () => {
    const cases: [number, string][] = [
      [0, '0'],
      [-0, '-0'],
      [1, '1'],
      [-1, '-1'],
      [0.1, '0.1'],
      [-0.25, '-0.25'],
      [1e-7, '1e-7'],
      [0.000001, '0.000001'],
      [123456, '123456'],
      [16777216, '16777216'],
      [1e20, '100000000000000000000'],
      [1e21, '1e+21'],
      [3.4028234663852886e38, '3.4028235e+38'],
      [1e-40, '1e-40'],
      [1e-45, '1e-45'],
      [0.999999999, '1'],
    ];
    for (const [v, text] of cases) {
      expect(float32ToJson(v)).toBe(text);
      expect(Object.is(Math.fround(JSON.parse(text) as number), Math.fround(v))).toBe(true);
    }
    expect(JSON.stringify([float32Number(0.4), float32Number(Math.fround(0.1))])).toBe('[0.4,0.1]');
  });

  it('writes arrays', () => {
    const values = Float32Array.from([0.25, -1.5, 0.1, 7]);
    const out = jsonOut(200);
    const end = writeFloat32Array(new Uint32Array(values.buffer), 1, 3, out, 0);
    const text = Buffer.from(out.bytes.subarray(0, end)).toString();
    expect(text).toBe('[-1.5,0.1,7]');
    expect(Float32Array.from(JSON.parse(text) as number[])).toEqual(values.subarray(1));
    expect(writeFloat32Array(new Uint32Array(0), 0, 0, out, 0)).toBe(2);
  });
});
