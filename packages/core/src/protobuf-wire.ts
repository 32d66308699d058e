/**
 * The protobuf wire format, read and written by hand: the one reader and the varint helpers that
 * p2m's hand-written messages share (Pinecone's gRPC fetch, Milvus's upsert and query requests and
 * their answers). Hand-written because each of those paths copies vector bytes straight between the
 * wire and typed arrays, with no generated code and no object per value in between.
 *
 * The reader is strict where a parser must be: a varint longer than 10 bytes, a field running past
 * its message and an unknown wire type are errors (`ProtobufWireError`), never a read out of
 * bounds. Unknown fields are the caller's to skip.
 */

/** Wire types (https://protobuf.dev/programming-guides/encoding/). */
export const WIRE_VARINT = 0;
export const WIRE_I64 = 1;
export const WIRE_LEN = 2;
export const WIRE_I32 = 5;

export class ProtobufWireError extends Error {
  constructor(what: string, message: string) {
    super(`malformed ${what}: ${message}`);
    this.name = 'ProtobufWireError';
  }
}

/** Bytes of a non-negative integer (up to 2^53) as a varint. */
export function varintSize(v: number): number {
  let n = 1;
  while (v >= 128) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

/** Writes `v` (non-negative, up to 2^53) as a varint at `pos`; returns the position after it. */
export function writeVarint(buf: Uint8Array, pos: number, v: number): number {
  while (v >= 128) {
    buf[pos++] = (v % 128) | 128;
    v = Math.floor(v / 128);
  }
  buf[pos++] = v;
  return pos;
}

/** A cursor over one message (or one length-delimited field of one) in `buf[pos, end)`. */
export class ProtoReader {
  readonly buf: Buffer;
  pos: number;
  readonly end: number;
  /** What the bytes are, for errors: "malformed <what>: truncated varint". */
  readonly what: string;

  constructor(buf: Buffer, what: string, pos = 0, end = buf.length) {
    this.buf = buf;
    this.what = what;
    this.pos = pos;
    this.end = end;
  }

  get more(): boolean {
    return this.pos < this.end;
  }

  private fail(message: string): never {
    throw new ProtobufWireError(this.what, message);
  }

  /** An unsigned varint up to 2^53 (larger ones lose precision, as in JavaScript's protobuf readers). */
  varint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) this.fail('truncated varint');
      const byte = this.buf[this.pos++]!;
      result += (byte & 0x7f) * scale;
      if (byte < 0x80) return result;
      scale *= 128;
    }
    return this.fail('varint longer than 10 bytes');
  }

  /** A 64-bit varint (int64 / uint64: ids and timestamps above 2^53), as its unsigned value. */
  varint64(): bigint {
    let result = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) this.fail('truncated varint');
      const byte = this.buf[this.pos++]!;
      result |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) return BigInt.asUintN(64, result);
      shift += 7n;
    }
    return this.fail('varint longer than 10 bytes');
  }

  /** An int32 (negative ones are sign-extended to 10 bytes on the wire): its low 32 bits, signed. */
  int32(): number {
    let low = 0;
    for (let i = 0, shift = 0; i < 10; i++, shift += 7) {
      if (this.pos >= this.end) this.fail('truncated varint');
      const byte = this.buf[this.pos++]!;
      if (shift < 32) low |= (byte & 0x7f) << shift;
      if (byte < 0x80) return low | 0;
    }
    return this.fail('varint longer than 10 bytes');
  }

  /** A length-delimited field's bounds; the reader moves past it. */
  span(): { start: number; end: number } {
    const length = this.varint();
    const start = this.pos;
    const end = start + length;
    if (end > this.end) this.fail(`field of ${length} bytes runs past its message`);
    this.pos = end;
    return { start, end };
  }

  /** A reader over the next length-delimited field (an embedded message or a packed run). */
  sub(): ProtoReader {
    const { start, end } = this.span();
    return new ProtoReader(this.buf, this.what, start, end);
  }

  /** The next length-delimited field's bytes, as a view (no copy). */
  bytes(): Buffer {
    const { start, end } = this.span();
    return this.buf.subarray(start, end);
  }

  string(): string {
    const { start, end } = this.span();
    return this.buf.toString('utf8', start, end);
  }

  double(): number {
    if (this.pos + 8 > this.end) this.fail('truncated double');
    const v = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return v;
  }

  float(): number {
    if (this.pos + 4 > this.end) this.fail('truncated float');
    const v = this.buf.readFloatLE(this.pos);
    this.pos += 4;
    return v;
  }

  /** Moves past a field of `wireType` whose tag was just read. */
  skip(wireType: number): void {
    switch (wireType) {
      case WIRE_VARINT:
        this.varint();
        return;
      case WIRE_LEN:
        this.span();
        return;
      case WIRE_I64:
        this.pos += 8;
        break;
      case WIRE_I32:
        this.pos += 4;
        break;
      default:
        this.fail(`unsupported wire type ${wireType}`);
    }
    if (this.pos > this.end) this.fail('truncated field');
  }
}

/** The varint bytes of a 64-bit value (its unsigned 64 bits: a negative int64 takes 10 bytes), exactly. */
function pushVarint64(body: number[], value: bigint): void {
  let v = BigInt.asUintN(64, value);
  while (v >= 0x80n) {
    body.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  body.push(Number(v));
}

/**
 * A message written field by field into a list of chunks, for small requests (names, filters, ids):
 * sizes are not known up front, and one `Buffer.concat` at the end is cheaper than sizing twice.
 */
export class ProtoEncoder {
  private readonly parts: Buffer[] = [];

  private raw(v: number): void {
    const b = Buffer.allocUnsafe(varintSize(v));
    writeVarint(b, 0, v);
    this.parts.push(b);
  }

  /** A length-delimited field (bytes, or an embedded message already encoded). */
  bytes(field: number, value: Uint8Array): this {
    this.raw((field << 3) | WIRE_LEN);
    this.raw(value.length);
    this.parts.push(Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength));
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, Buffer.from(value, 'utf8'));
  }

  /** A varint field (non-negative, up to 2^53). */
  uint(field: number, value: number): this {
    this.raw((field << 3) | WIRE_VARINT);
    this.raw(value);
    return this;
  }

  /** A 64-bit varint field (uint64: Milvus timestamps are above 2^53), written exactly. */
  uint64(field: number, value: bigint): this {
    this.raw((field << 3) | WIRE_VARINT);
    const body: number[] = [];
    pushVarint64(body, value);
    this.parts.push(Buffer.from(body));
    return this;
  }

  /** A packed repeated 64-bit varint field (int64 / uint64 ids), written exactly. */
  packedUint64(field: number, values: readonly bigint[]): this {
    if (values.length === 0) return this;
    const body: number[] = [];
    for (const value of values) pushVarint64(body, value);
    return this.bytes(field, Buffer.from(body));
  }

  finish(): Buffer {
    return Buffer.concat(this.parts);
  }
}
