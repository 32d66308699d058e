// Append-only write-ahead log of one index's data operations, replayed at start.
//
// Frame: u32 length (of op byte + payload) | u8 op | payload | u32 crc32(op byte + payload).
// A write is acknowledged to the client after write(2) returned, so it survives a crash of the
// emulator process (the bytes are in the OS page cache). Durability against power loss depends
// on the fsync policy: 'always' fdatasyncs before acknowledging, 'interval' (the default)
// fdatasyncs at most once a second when something was written, 'never' leaves it to the OS.
// A torn frame at the tail (crash mid-write) fails its length or CRC check and is cut off at
// replay. When the log is mostly overwritten or deleted data, start-up rewrites it as a snapshot.

import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import type { SparseVector, StoredRecord } from './namespace-store.ts';

export type FsyncPolicy = 'always' | 'interval' | 'never';

export type WalOp =
  | { op: 'upsert'; ns: string; records: StoredRecord[] }
  | { op: 'delete'; ns: string; ids: string[] }
  | { op: 'deleteAll'; ns: string }
  /** `schema`: the namespace's metadata schema as JSON text, when it was created with one. */
  | { op: 'createNamespace'; ns: string; schema?: string }
  | { op: 'deleteNamespace'; ns: string };

const OP_CODE = { upsert: 1, delete: 2, deleteAll: 3, createNamespace: 4, deleteNamespace: 5 } as const;
const HAS_VALUES = 1;
const HAS_SPARSE = 2;
const HAS_METADATA = 4;

export class Wal {
  readonly file: string;
  private fd: number;
  private readonly fsync: FsyncPolicy;
  private dirty = false;
  private timer: NodeJS.Timeout | undefined;
  size: number;

  private constructor(file: string, fd: number, size: number, fsync: FsyncPolicy) {
    this.file = file;
    this.fd = fd;
    this.size = size;
    this.fsync = fsync;
    if (fsync === 'interval') {
      this.timer = setInterval(() => this.flush(), 1000);
      this.timer.unref();
    }
  }

  /** Opens (creating if needed) the log and calls `apply` for every intact operation in it. */
  static open(file: string, dim: number, fsync: FsyncPolicy, apply: (op: WalOp) => void): Wal {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const good = replay(file, dim, apply);
    const fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT);
    const size = fs.fstatSync(fd).size;
    if (size > good) {
      process.emitWarning(`p2m emulator: cutting a torn tail of ${size - good} bytes from ${file}`);
      fs.ftruncateSync(fd, good);
    }
    return new Wal(file, fd, good, fsync);
  }

  append(op: WalOp, dim: number): void {
    const frame = encode(op, dim);
    let off = 0;
    while (off < frame.length) off += fs.writeSync(this.fd, frame, off, frame.length - off, this.size + off);
    this.size += frame.length;
    if (this.fsync === 'always') fs.fdatasyncSync(this.fd);
    else this.dirty = true;
  }

  flush(): void {
    if (this.dirty && this.fd >= 0) {
      this.dirty = false;
      fs.fdatasyncSync(this.fd);
    }
  }

  /** Replaces the log with `ops` (a snapshot of the live state), atomically. */
  rewrite(ops: Iterable<WalOp>, dim: number): void {
    const tmp = `${this.file}.compact`;
    const fd = fs.openSync(tmp, 'w');
    let size = 0;
    for (const op of ops) {
      const frame = encode(op, dim);
      fs.writeSync(fd, frame);
      size += frame.length;
    }
    fs.fdatasyncSync(fd);
    fs.closeSync(fd);
    fs.closeSync(this.fd);
    fs.renameSync(tmp, this.file);
    fsyncDir(path.dirname(this.file));
    this.fd = fs.openSync(this.file, fs.constants.O_RDWR);
    this.size = size;
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.fd >= 0) {
      this.flush();
      fs.closeSync(this.fd);
      this.fd = -1;
    }
  }
}

export function fsyncDir(dir: string): void {
  try {
    const fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
    fs.closeSync(fd);
  } catch {
    // Some filesystems refuse fsync on directories; the rename is still atomic.
  }
}

/** Reads the log, applying intact frames; returns the byte offset after the last intact frame. */
function replay(file: string, dim: number, apply: (op: WalOp) => void): number {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
  try {
    const size = fs.fstatSync(fd).size;
    let buf = Buffer.allocUnsafe(64 * 1024 * 1024);
    let bufStart = 0; // file offset of buf[0]
    let bufLen = 0;
    let pos = 0; // file offset of the next frame
    for (;;) {
      // Make sure the next frame header, then the whole frame, is in the buffer.
      const rel = pos - bufStart;
      if (bufLen - rel < 4) {
        if (!refill()) return pos;
        continue;
      }
      const len = buf.readUInt32LE(rel);
      if (len < 1 || pos + 8 + len > size) return pos;
      if (bufLen - rel < 8 + len) {
        if (8 + len > buf.length) {
          const bigger = Buffer.allocUnsafe(8 + len);
          buf.copy(bigger, 0, rel, bufLen);
          bufLen -= rel;
          bufStart = pos;
          buf = bigger;
        }
        if (!refill()) return pos;
        continue;
      }
      const body = buf.subarray(rel + 4, rel + 4 + len);
      const crc = buf.readUInt32LE(rel + 4 + len);
      if (zlib.crc32(body) !== crc) return pos;
      apply(decode(body, dim));
      pos += 8 + len;
    }

    function refill(): boolean {
      // Move the unread tail to the front and read more after it.
      const rel = pos - bufStart;
      buf.copy(buf, 0, rel, bufLen);
      bufLen -= rel;
      bufStart = pos;
      const n = fs.readSync(fd, buf, bufLen, buf.length - bufLen, bufStart + bufLen);
      bufLen += n;
      return n > 0;
    }
  } finally {
    fs.closeSync(fd);
  }
}

function encode(op: WalOp, dim: number): Buffer {
  const nsBytes = Buffer.byteLength(op.ns);
  let size = 1 + 2 + nsBytes;
  if (op.op === 'upsert') {
    size += 4;
    for (const r of op.records) {
      size += 2 + r.id.length + 1;
      if (r.values) size += dim * 4;
      if (r.sparse) size += 4 + r.sparse.indices.length * 8;
      if (r.metadataJson !== null) size += 4 + Buffer.byteLength(r.metadataJson);
    }
  } else if (op.op === 'delete') {
    size += 4;
    for (const id of op.ids) size += 2 + id.length;
  } else if (op.op === 'createNamespace' && op.schema !== undefined) {
    size += 4 + Buffer.byteLength(op.schema);
  }
  const frame = Buffer.allocUnsafe(4 + size + 4);
  frame.writeUInt32LE(size, 0);
  let p = 4;
  frame[p++] = OP_CODE[op.op];
  frame.writeUInt16LE(nsBytes, p);
  p += 2;
  p += frame.write(op.ns, p, 'utf8');
  if (op.op === 'upsert') {
    frame.writeUInt32LE(op.records.length, p);
    p += 4;
    for (const r of op.records) {
      frame.writeUInt16LE(r.id.length, p);
      p += 2;
      p += frame.write(r.id, p, 'latin1'); // ids are ASCII
      frame[p++] = (r.values ? HAS_VALUES : 0) | (r.sparse ? HAS_SPARSE : 0) | (r.metadataJson !== null ? HAS_METADATA : 0);
      if (r.values) p = copyFloats(r.values, frame, p);
      if (r.sparse) {
        frame.writeUInt32LE(r.sparse.indices.length, p);
        p += 4;
        p += Buffer.from(r.sparse.indices.buffer, r.sparse.indices.byteOffset, r.sparse.indices.byteLength).copy(frame, p);
        p = copyFloats(r.sparse.values, frame, p);
      }
      if (r.metadataJson !== null) {
        const n = frame.write(r.metadataJson, p + 4, 'utf8');
        frame.writeUInt32LE(n, p);
        p += 4 + n;
      }
    }
  } else if (op.op === 'delete') {
    frame.writeUInt32LE(op.ids.length, p);
    p += 4;
    for (const id of op.ids) {
      frame.writeUInt16LE(id.length, p);
      p += 2;
      p += frame.write(id, p, 'latin1');
    }
  } else if (op.op === 'createNamespace' && op.schema !== undefined) {
    const n = frame.write(op.schema, p + 4, 'utf8');
    frame.writeUInt32LE(n, p);
    p += 4 + n;
  }
  frame.writeUInt32LE(zlib.crc32(frame.subarray(4, 4 + size)), 4 + size);
  return frame;
}

function copyFloats(values: Float32Array, frame: Buffer, p: number): number {
  return p + Buffer.from(values.buffer, values.byteOffset, values.byteLength).copy(frame, p);
}

function decode(body: Buffer, dim: number): WalOp {
  let p = 0;
  const code = body[p++]!;
  const nsLen = body.readUInt16LE(p);
  p += 2;
  const ns = body.toString('utf8', p, p + nsLen);
  p += nsLen;
  switch (code) {
    case OP_CODE.upsert: {
      const n = body.readUInt32LE(p);
      p += 4;
      const records: StoredRecord[] = new Array(n);
      for (let i = 0; i < n; i++) {
        const idLen = body.readUInt16LE(p);
        p += 2;
        const id = body.toString('latin1', p, p + idLen);
        p += idLen;
        const flags = body[p++]!;
        let values: Float32Array | null = null;
        if (flags & HAS_VALUES) {
          values = readFloats(body, p, dim);
          p += dim * 4;
        }
        let sparse: SparseVector | null = null;
        if (flags & HAS_SPARSE) {
          const nnz = body.readUInt32LE(p);
          p += 4;
          const indices = new Uint32Array(nnz);
          Buffer.from(indices.buffer).set(body.subarray(p, p + nnz * 4));
          p += nnz * 4;
          sparse = { indices, values: readFloats(body, p, nnz) };
          p += nnz * 4;
        }
        let metadataJson: string | null = null;
        if (flags & HAS_METADATA) {
          const len = body.readUInt32LE(p);
          p += 4;
          metadataJson = body.toString('utf8', p, p + len);
          p += len;
        }
        records[i] = { id, values, sparse, metadataJson };
      }
      return { op: 'upsert', ns, records };
    }
    case OP_CODE.delete: {
      const n = body.readUInt32LE(p);
      p += 4;
      const ids: string[] = new Array(n);
      for (let i = 0; i < n; i++) {
        const len = body.readUInt16LE(p);
        p += 2;
        ids[i] = body.toString('latin1', p, p + len);
        p += len;
      }
      return { op: 'delete', ns, ids };
    }
    case OP_CODE.deleteAll:
      return { op: 'deleteAll', ns };
    case OP_CODE.createNamespace: {
      // Logs written before namespace schemas end after the name.
      if (p === body.length) return { op: 'createNamespace', ns };
      const len = body.readUInt32LE(p);
      return { op: 'createNamespace', ns, schema: body.toString('utf8', p + 4, p + 4 + len) };
    }
    case OP_CODE.deleteNamespace:
      return { op: 'deleteNamespace', ns };
    default:
      throw new Error(`unknown log operation ${code}`);
  }
}

function readFloats(body: Buffer, p: number, n: number): Float32Array {
  const out = new Float32Array(n);
  Buffer.from(out.buffer).set(body.subarray(p, p + n * 4));
  return out;
}
