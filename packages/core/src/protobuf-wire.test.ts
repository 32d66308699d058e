import { describe, expect, it } from 'vitest';
import { ProtobufWireError, ProtoEncoder, ProtoReader, varintSize, WIRE_I32, WIRE_I64, WIRE_LEN, WIRE_VARINT, writeVarint } from './protobuf-wire.ts';

const hex = (s: string): Buffer => Buffer.from(s.replace(/ /g, ''), 'hex');

describe('protobuf wire', () => {
  // Encodings from the protobuf encoding guide: 1 -> 01, 150 -> 96 01, 300 -> ac 02.
  const known: [number, string][] = [
    [0, '00'],
    [1, '01'],
    [127, '7f'],
    [128, '80 01'],
    [150, '96 01'],
    [300, 'ac 02'],
    [2 ** 32 - 1, 'ff ff ff ff 0f'],
    [2 ** 53 - 1, 'ff ff ff ff ff ff ff 0f'],
  ];

  it('writes, sizes and reads varints as the encoding guide gives them', () => {
    for (const [value, bytes] of known) {
      const buf = Buffer.alloc(12, 0xee);
      const end = writeVarint(buf, 1, value);
      expect(buf.subarray(1, end)).toEqual(hex(bytes));
      expect(buf[end]).toBe(0xee); // nothing written past the varint
      expect(varintSize(value)).toBe(end - 1);
      const r = new ProtoReader(hex(bytes), 'test message');
      expect(r.varint()).toBe(value);
      expect(r.more).toBe(false);
    }
  });

  it('reads 64-bit varints exactly, above 2^53, and writes them packed', () => {
    const values = [0n, 1n, 300n, 2n ** 53n + 1n, 449912345678901234n, 2n ** 64n - 1n];
    const packed = new ProtoEncoder().packedUint64(1, values).finish();
    const r = new ProtoReader(packed, 't');
    expect(r.varint()).toBe((1 << 3) | WIRE_LEN);
    const run = r.sub();
    const read: bigint[] = [];
    while (run.more) read.push(run.varint64());
    expect(read).toEqual(values);
    expect(new ProtoReader(hex('ff ff ff ff ff ff ff ff ff 01'), 't').varint64()).toBe(2n ** 64n - 1n);
    expect(() => new ProtoReader(hex('ff ff'), 't').varint64()).toThrow(/truncated varint/);

    // One at a time, as single fields (a Milvus guarantee timestamp).
    const single = new ProtoEncoder();
    for (const v of values) single.uint64(8, v);
    const s = new ProtoReader(single.finish(), 't');
    const one: bigint[] = [];
    while (s.more) {
      expect(s.varint()).toBe((8 << 3) | WIRE_VARINT);
      one.push(s.varint64());
    }
    expect(one).toEqual(values);
  });

  it('reads a negative int32 from its 10-byte sign extension', () => {
    expect(new ProtoReader(hex('ff ff ff ff ff ff ff ff ff 01'), 't').int32()).toBe(-1);
    expect(new ProtoReader(hex('80 80 80 80 f8 ff ff ff ff 01'), 't').int32()).toBe(-(2 ** 31));
    expect(new ProtoReader(hex('96 01'), 't').int32()).toBe(150);
  });

  it('reads strings, bytes, sub-messages, doubles and floats, and skips every wire type', () => {
    const d = Buffer.alloc(8);
    d.writeDoubleLE(-2.5);
    const f = Buffer.alloc(4);
    f.writeFloatLE(0.5);
    // field 1 string "hé", field 2 embedded { field 1 varint 7 }, field 3 double, field 4 float, field 5 varint 300
    const msg = Buffer.concat([hex('0a 03'), Buffer.from('hé'), hex('12 02 08 07 19'), d, hex('25'), f, hex('28 ac 02')]);
    const r = new ProtoReader(msg, 't');
    expect(r.varint()).toBe((1 << 3) | WIRE_LEN);
    expect(r.string()).toBe('hé');
    expect(r.varint()).toBe((2 << 3) | WIRE_LEN);
    const sub = r.sub();
    expect([sub.varint(), sub.varint(), sub.more]).toEqual([(1 << 3) | WIRE_VARINT, 7, false]);
    expect(r.varint()).toBe((3 << 3) | WIRE_I64);
    expect(r.double()).toBe(-2.5);
    expect(r.varint()).toBe((4 << 3) | WIRE_I32);
    expect(r.float()).toBe(0.5);
    expect(r.varint()).toBe((5 << 3) | WIRE_VARINT);
    expect(r.varint()).toBe(300);
    expect(r.more).toBe(false);

    const skipper = new ProtoReader(msg, 't');
    const fields: number[] = [];
    while (skipper.more) {
      const tag = skipper.varint();
      fields.push(tag >>> 3);
      skipper.skip(tag & 7);
    }
    expect(fields).toEqual([1, 2, 3, 4, 5]);
    expect(skipper.pos).toBe(msg.length);

    const view = new ProtoReader(msg, 't');
    view.varint();
    const b = view.bytes();
    expect(b.buffer).toBe(msg.buffer); // a view, not a copy
    expect(b.toString()).toBe('hé');
  });

  it('refuses truncation, overlong varints and unknown wire types, naming what it was reading', () => {
    const cases: [Buffer, (r: ProtoReader) => unknown, RegExp][] = [
      [hex('80'), (r) => r.varint(), /truncated varint/],
      [hex('80 80'), (r) => r.int32(), /truncated varint/],
      [hex('ff ff ff ff ff ff ff ff ff ff 01'), (r) => r.varint(), /longer than 10 bytes/],
      [hex('05 61 62'), (r) => r.string(), /field of 5 bytes runs past its message/],
      [hex('05 61 62'), (r) => r.sub(), /runs past/],
      [hex('00 00 00'), (r) => r.float(), /truncated float/],
      [hex('00 00 00 00'), (r) => r.double(), /truncated double/],
      [hex('00 00'), (r) => r.skip(WIRE_I32), /truncated field/],
      [hex('00'), (r) => r.skip(3), /unsupported wire type 3/],
    ];
    for (const [bytes, read, message] of cases) {
      const r = new ProtoReader(bytes, 'Milvus answer');
      let error: unknown;
      try {
        read(r);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ProtobufWireError);
      expect((error as Error).message).toMatch(/^malformed Milvus answer: /);
      expect((error as Error).message).toMatch(message);
    }
  });

  it('keeps a sub-reader inside its field even when the buffer goes on', () => {
    const r = new ProtoReader(hex('02 96 01 05'), 't');
    const sub = r.sub();
    expect(sub.varint()).toBe(150);
    expect(sub.more).toBe(false);
    expect(() => sub.varint()).toThrow(/truncated varint/);
    expect(r.varint()).toBe(5);
  });
});
