import { describe, expect, it } from 'vitest';
import { float32ToJson, jsonOut, writeFloat32Array } from './float-json.ts';
import { Prng } from './prng.ts';

describe('float32 JSON writer', () => {
  it('round-trips every kind of float32 through JSON.parse exactly', () => {
    const prng = new Prng(123);
    const bits = new Uint32Array(1);
    const f = new Float32Array(bits.buffer);
    const wrong: string[] = [];
    for (let i = 0; i < 300_000; i++) {
      bits[0] = prng.nextUint32();
      if (!Number.isFinite(f[0]!)) continue;
      const text = float32ToJson(f[0]!);
      if (!Object.is(JSON.parse(text), f[0])) wrong.push(`${f[0]} written as ${text}`);
    }
    expect(wrong).toEqual([]);
  });

  it('round-trips typical embedding magnitudes', () => {
    const prng = new Prng(7);
    const wrong: string[] = [];
    for (let i = 0; i < 200_000; i++) {
      const v = Math.fround((prng.next() * 2 - 1) * 10 ** (-prng.next() * 9));
      if (JSON.parse(float32ToJson(v)) !== v) wrong.push(`${v} written as ${float32ToJson(v)}`);
    }
    expect(wrong).toEqual([]);
  });

  it('spells boundary values as JSON numbers', () => {
    const cases = [0, -0, 1, -1, 0.5, 0.1, 1e-7, 123456, 16777216, 3.4028234663852886e38, 1e-45, 1.1754943508222875e-38, 0.999999999];
    for (const v of cases) {
      const fv = Math.fround(v);
      const text = float32ToJson(fv);
      expect(text).toMatch(/^-?(0|[1-9]\d*)(\.\d+)?(e[-+]\d+)?$/);
      expect(Object.is(JSON.parse(text), fv)).toBe(true);
    }
    expect(float32ToJson(0.5)).toBe('0.5');
    expect(float32ToJson(0.1)).toBe('0.10000000149011612');
    expect(float32ToJson(-0)).toBe('-0');
  });

  it('writes arrays', () => {
    const values = Float32Array.from([0.25, -1.5, 0.1, 7]);
    const out = jsonOut(200);
    const end = writeFloat32Array(new Uint32Array(values.buffer), 1, 3, out, 0);
    const text = Buffer.from(out.bytes.subarray(0, end)).toString();
    expect(JSON.parse(text)).toEqual(Array.from(values.subarray(1)));
    expect(writeFloat32Array(new Uint32Array(0), 0, 0, out, 0)).toBe(2);
  });
});
