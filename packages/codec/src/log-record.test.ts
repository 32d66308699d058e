import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { EtlError, type LogRecord, type Metadata, type VectorRecord } from '@p2m/core';
import { createLogRecordCodec, decodeRecord, encodeRecord, logRecordCodec } from './log-record.ts';

const vector = (over: Partial<VectorRecord> = {}): VectorRecord => ({
  kind: 'vector',
  namespace: 'ns-1',
  id: 'id-1',
  values: new Float32Array([0.1, -2.5, 3e-38, 1e38]),
  sparse: null,
  metadata: { genre: 'drama', year: 1994, rating: 8.6, released: true, tags: ['a', 'b'] },
  ...over,
});

const roundTrip = (r: LogRecord): LogRecord => decodeRecord(encodeRecord(r));

/** Bit-exact comparison (toEqual on typed arrays compares numbers, where NaN and -0 are special). */
const bytesOf = (a: Float32Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

function expectInvalid(fn: () => unknown, field?: string): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(EtlError);
    expect((err as EtlError).code).toBe('RECORD_INVALID');
    expect((err as EtlError).retriable).toBe(false);
    if (field !== undefined) expect((err as EtlError).field).toBe(field);
    return;
  }
  throw new Error('expected RECORD_INVALID');
}

describe('log record codec', () => {
  it('round-trips a dense record with every metadata type', () => {
    const r = vector();
    const back = roundTrip(r) as VectorRecord;
    expect(back).toEqual(r);
    expect(back.values).toBeInstanceOf(Float32Array);
    expect(bytesOf(back.values!)).toEqual(bytesOf(r.values!));
  });

  it('keeps float32 values bit for bit, including subnormals and extremes', () => {
    const values = new Float32Array([Math.fround(0.1), -0, 1.4e-45, -3.4028234663852886e38, 3.4028234663852886e38, 1.17549435e-38, 0.3333333432674408]);
    const back = roundTrip(vector({ values })) as VectorRecord;
    expect(bytesOf(back.values!)).toEqual(bytesOf(values));
    expect(Object.is(back.values![1], -0)).toBe(true);
  });

  it('decodes into an aligned copy: a small slice of the Buffer pool up to 1,024 dimensions, its own memory beyond', () => {
    for (const dim of [1, 768, 1_024, 1_025, 4_096]) {
      const encoded = encodeRecord(vector({ values: new Float32Array(dim).fill(0.5) }));
      const back = decodeRecord(encoded) as VectorRecord;
      expect(back.values!.byteOffset % 4).toBe(0);
      expect(back.values!.buffer.byteLength).toBeLessThanOrEqual(Math.max(Buffer.poolSize, dim * 4));
      encoded.fill(0); // a copy: the message's bytes are not the vector's
      expect(back.values!.every((v) => v === 0.5)).toBe(true);
    }
  });

  it('keeps no view of the message: sparse indices and values survive the message being overwritten', () => {
    const encoded = encodeRecord(vector({ sparse: { indices: [7, 2, 4_294_967_295], values: new Float32Array([0.25, -1, 3]) } }));
    const back = decodeRecord(encoded) as VectorRecord;
    encoded.fill(0);
    expect(back.sparse!.indices).toEqual([7, 2, 4_294_967_295]);
    expect([...back.sparse!.values]).toEqual([0.25, -1, 3]);
    expect([...back.values!]).toEqual([...new Float32Array([0.1, -2.5, 3e-38, 1e38])]);
  });

  it('round-trips a Float32Array that is a view into a larger buffer', () => {
    const big = new Float32Array([9, 1, 2, 3, 9]);
    const back = roundTrip(vector({ values: big.subarray(1, 4) })) as VectorRecord;
    expect(Array.from(back.values!)).toEqual([1, 2, 3]);
  });

  it('keeps sparse indices exact up to 2^32 - 1', () => {
    const sparse = { indices: [0, 1, 2 ** 31, 2 ** 32 - 2, 4294967295], values: new Float32Array([0.5, 1, 2, 3, 4]) };
    const back = roundTrip(vector({ sparse })) as VectorRecord;
    expect(back.sparse!.indices).toEqual(sparse.indices);
    expect(back.sparse!.values).toBeInstanceOf(Float32Array);
    expect(bytesOf(back.sparse!.values)).toEqual(bytesOf(sparse.values));
  });

  it('round-trips sparse-only and hybrid records', () => {
    const sparse = { indices: [7, 42], values: new Float32Array([0.25, 0.75]) };
    expect(roundTrip(vector({ values: null, sparse }))).toEqual(vector({ values: null, sparse }));
    expect(roundTrip(vector({ sparse }))).toEqual(vector({ sparse }));
    expect(roundTrip(vector({ values: null, sparse: { indices: [], values: new Float32Array(0) } }))).toEqual(
      vector({ values: null, sparse: { indices: [], values: new Float32Array(0) } }),
    );
  });

  it('tells no metadata (null) from empty metadata ({})', () => {
    expect((roundTrip(vector({ metadata: null })) as VectorRecord).metadata).toBeNull();
    expect((roundTrip(vector({ metadata: {} })) as VectorRecord).metadata).toEqual({});
  });

  it('stores integers as long and every other number as double', () => {
    const metadata: Metadata = {
      int: 42,
      negative: -7,
      zero: 0,
      big: Number.MAX_SAFE_INTEGER - 1,
      maxSafe: Number.MAX_SAFE_INTEGER,
      beyond: 2 ** 53,
      lowest: -(2 ** 52),
      belowLowest: -(2 ** 52) - 1,
      minSafe: Number.MIN_SAFE_INTEGER,
      float: 0.1,
      tiny: 5e-324,
      negZero: -0,
      exp: 1e300,
    };
    const encoded = encodeRecord(vector({ metadata }));
    const raw = logRecordCodec.type.fromBuffer(encoded) as { body: Record<string, { metadata: Record<string, Record<string, unknown>> }> };
    const md = raw.body['p2m.VectorRecord']!.metadata;
    expect(Object.keys(md.int!)).toEqual(['long']);
    expect(Object.keys(md.negative!)).toEqual(['long']);
    expect(Object.keys(md.zero!)).toEqual(['long']);
    expect(Object.keys(md.big!)).toEqual(['long']);
    expect(Object.keys(md.maxSafe!)).toEqual(['double']);
    expect(Object.keys(md.lowest!)).toEqual(['long']);
    expect(Object.keys(md.belowLowest!)).toEqual(['double']);
    expect(Object.keys(md.minSafe!)).toEqual(['double']);
    expect(Object.keys(md.beyond!)).toEqual(['double']);
    expect(Object.keys(md.float!)).toEqual(['double']);
    expect(Object.keys(md.negZero!)).toEqual(['double']);
    const back = (decodeRecord(encoded) as VectorRecord).metadata!;
    expect(back).toEqual(metadata);
    expect(Object.is(back.negZero, -0)).toBe(true);
  });

  it('keeps unicode, empty strings, empty lists and 512-character ids', () => {
    const id = 'x'.repeat(512);
    const r = vector({
      id,
      namespace: 'espace de noms ✓ 名前空間',
      metadata: { '': '', clé: 'värde 🚀', emoji: ['😀', '', '\u0000'], empty: [], nul: 'a\u0000b' },
    });
    expect(roundTrip(r)).toEqual(r);
    expect(roundTrip(vector({ id: '🚀'.repeat(300) }))).toEqual(vector({ id: '🚀'.repeat(300) }));
  });

  it('keeps the default namespace as the empty string', () => {
    expect(roundTrip(vector({ namespace: '' }))).toEqual(vector({ namespace: '' }));
  });

  it('round-trips end-of-namespace markers', () => {
    expect(roundTrip({ kind: 'end', namespace: '', count: 0 })).toEqual({ kind: 'end', namespace: '', count: 0 });
    expect(roundTrip({ kind: 'end', namespace: 'n', count: 2 ** 40 })).toEqual({ kind: 'end', namespace: 'n', count: 2 ** 40 });
    expectInvalid(() => encodeRecord({ kind: 'end', namespace: 'n', count: -1 }), 'count');
    expectInvalid(() => encodeRecord({ kind: 'end', namespace: 'n', count: 1.5 }), 'count');
  });

  it('rejects non-finite numbers (NaN, Infinity) in vectors and metadata', () => {
    expectInvalid(() => encodeRecord(vector({ values: new Float32Array([1, NaN]) })), 'values');
    expectInvalid(() => encodeRecord(vector({ values: new Float32Array([Infinity]) })), 'values');
    expectInvalid(() => encodeRecord(vector({ sparse: { indices: [1], values: new Float32Array([-Infinity]) } })), 'sparse.values');
    expectInvalid(() => encodeRecord(vector({ metadata: { score: NaN } })), 'metadata.score');
    expectInvalid(() => encodeRecord(vector({ metadata: { score: Infinity } })), 'metadata.score');
  });

  it('rejects sparse indices that are not uint32, and mismatched lengths', () => {
    expectInvalid(() => encodeRecord(vector({ sparse: { indices: [2 ** 32], values: new Float32Array([1]) } })), 'sparse.indices');
    expectInvalid(() => encodeRecord(vector({ sparse: { indices: [-1], values: new Float32Array([1]) } })), 'sparse.indices');
    expectInvalid(() => encodeRecord(vector({ sparse: { indices: [1.5], values: new Float32Array([1]) } })), 'sparse.indices');
    expectInvalid(() => encodeRecord(vector({ sparse: { indices: [1, 2], values: new Float32Array([1]) } })), 'sparse');
  });

  it('rejects metadata of unsupported types', () => {
    expectInvalid(() => encodeRecord(vector({ metadata: { nested: { a: 1 } } as unknown as Metadata })), 'metadata.nested');
    expectInvalid(() => encodeRecord(vector({ metadata: { mixed: ['a', 1] } as unknown as Metadata })), 'metadata.mixed');
    expectInvalid(() => encodeRecord(vector({ metadata: { nil: null } as unknown as Metadata })), 'metadata.nil');
    expectInvalid(() => encodeRecord(vector({ metadata: JSON.parse('{"__proto__":"x"}') as Metadata })), 'metadata.__proto__');
  });

  it('rejects values that are not a Float32Array and empty ids', () => {
    expectInvalid(() => encodeRecord(vector({ values: [1, 2] as unknown as Float32Array })), 'values');
    expectInvalid(() => encodeRecord(vector({ id: '' })), 'id');
  });

  it('refuses malformed, truncated and trailing bytes with RECORD_INVALID', () => {
    const buf = encodeRecord(vector());
    expectInvalid(() => decodeRecord(buf.subarray(0, buf.length - 3)));
    expectInvalid(() => decodeRecord(Buffer.concat([buf, Buffer.from([0])])));
    expectInvalid(() => decodeRecord(Buffer.from([0x04, 0xff])));
  });

  it('writes the body after a prefix in one buffer', () => {
    const prefix = Buffer.from([0, 0, 0, 0, 7]);
    const framed = logRecordCodec.encode(vector(), prefix);
    expect(framed.subarray(0, 5)).toEqual(prefix);
    expect(logRecordCodec.decode(framed, 5)).toEqual(vector());
    expect(framed.subarray(5)).toEqual(encodeRecord(vector()));
  });

  it('encodes large records correctly after smaller ones (scratch buffer growth)', () => {
    const huge = vector({ values: new Float32Array(32_768).map((_, i) => i / 7) });
    expect(roundTrip(vector())).toEqual(vector());
    expect(roundTrip(huge)).toEqual(huge);
    expect(roundTrip(vector())).toEqual(vector());
  });

  it('array layouts (benchmark alternatives) give the same records back', () => {
    const r = vector({ sparse: { indices: [0, 4294967295], values: new Float32Array([0.1, 0.2]) } });
    for (const enc of [
      { dense: 'array', sparse: 'array' },
      { dense: 'packed', sparse: 'array' },
      { dense: 'array', sparse: 'packed' },
    ] as const) {
      const codec = createLogRecordCodec(enc);
      expect(codec.decode(codec.encode(r))).toEqual(r);
    }
  });

  it('round-trips arbitrary records (property)', () => {
    const f32 = fc.float({ noNaN: true, noDefaultInfinity: true });
    const metaValue = fc.oneof(
      fc.string(),
      fc.integer(),
      fc.maxSafeInteger(),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.boolean(),
      fc.array(fc.string(), { maxLength: 4 }),
    );
    const record = fc.record({
      namespace: fc.string({ maxLength: 20 }),
      id: fc.string({ minLength: 1, maxLength: 64, unit: 'grapheme' }),
      values: fc.option(fc.array(f32, { maxLength: 16 }).map((a) => new Float32Array(a))),
      sparse: fc.option(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 4294967295 }), f32), { maxLength: 8 }).map((pairs) => ({
          indices: pairs.map((p) => p[0]),
          values: new Float32Array(pairs.map((p) => p[1])),
        })),
      ),
      metadata: fc.option(
        fc.dictionary(
          fc.string({ maxLength: 8 }).filter((k) => k !== '__proto__'),
          metaValue,
          { maxKeys: 6 },
        ),
      ),
    });
    fc.assert(
      fc.property(record, (r) => {
        const rec: VectorRecord = { kind: 'vector', ...r };
        const back = roundTrip(rec) as VectorRecord;
        expect(back).toEqual(rec);
        if (rec.values) expect(bytesOf(back.values!)).toEqual(bytesOf(rec.values));
      }),
      { numRuns: Number(process.env.P2M_FC_RUNS ?? 300) },
    );
  });
});
