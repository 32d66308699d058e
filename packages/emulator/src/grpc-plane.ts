import http2 from 'node:http2';
import net from 'node:net';
import os from 'node:os';
import { Duplex } from 'node:stream';
import type { Server } from 'node:http';
import protobuf from 'protobufjs';
import type { IndexStore } from './store/index-store.ts';
import { LIMITS, validateId } from './validation.ts';
import { ApiError } from './errors.ts';

/**
 * Pinecone's gRPC data plane, the part p2m reads: `VectorService.Fetch`, served on the index's own
 * port beside the REST API, as Pinecone serves both on one host. The messages are encoded with
 * protobufjs from the .proto text below (the fields of Pinecone's published protos), not with
 * p2m's own hand-written reader, so the conformance tests compare two implementations.
 */
export const VECTOR_SERVICE_PROTO = `
syntax = "proto3";
package google.protobuf;
message Struct { map<string, Value> fields = 1; }
message Value {
  oneof kind {
    int32 null_value = 1;
    double number_value = 2;
    string string_value = 3;
    bool bool_value = 4;
    Struct struct_value = 5;
    ListValue list_value = 6;
  }
}
message ListValue { repeated Value values = 1; }
`;

export const PINECONE_DATA_PROTO = `
syntax = "proto3";
message SparseValues { repeated uint32 indices = 1; repeated float values = 2; }
message Vector { string id = 1; repeated float values = 2; google.protobuf.Struct metadata = 3; SparseValues sparse_values = 4; }
message FetchRequest { repeated string ids = 1; string namespace = 2; }
message Usage { optional uint32 read_units = 1; }
message FetchResponse { map<string, Vector> vectors = 1; string namespace = 2; optional Usage usage = 3; }
`;

/**
 * What the emulator writes: FetchResponse with the dense values as `bytes`. A packed `repeated
 * float` is, on the wire, exactly a length-delimited field of little-endian float32s, so the
 * answer is byte for byte the one `PINECONE_DATA_PROTO` describes, written with one copy per vector
 * instead of one call per float (which made the emulator, not p2m, the cost of a gRPC fetch).
 * p2m's reader is still checked against protobufjs's own `repeated float` (grpc-wire.test.ts).
 */
const ANSWER_PROTO = PINECONE_DATA_PROTO.replace(
  'message Vector { string id = 1; repeated float values = 2;',
  'message Vector { string id = 1; bytes values = 2;',
);

if (ANSWER_PROTO === PINECONE_DATA_PROTO) throw new Error('grpc-plane: the Vector message of PINECONE_DATA_PROTO changed; ANSWER_PROTO no longer matches it');
const LITTLE_ENDIAN_HOST = os.endianness() === 'LE';

const root = new protobuf.Root();
protobuf.parse(VECTOR_SERVICE_PROTO, root, { keepCase: true });
protobuf.parse(ANSWER_PROTO, root, { keepCase: true });
root.resolveAll();
const FetchRequest = root.lookupType('FetchRequest');
const FetchResponse = root.lookupType('FetchResponse');

/** gRPC status codes used here. */
export const GRPC = { OK: 0, INVALID_ARGUMENT: 3, NOT_FOUND: 5, RESOURCE_EXHAUSTED: 8, INTERNAL: 13, UNAVAILABLE: 14, UNIMPLEMENTED: 12, UNAUTHENTICATED: 16 };

export function grpcCodeOf(httpStatus: number): number {
  if (httpStatus === 400) return GRPC.INVALID_ARGUMENT;
  if (httpStatus === 401) return GRPC.UNAUTHENTICATED;
  if (httpStatus === 404) return GRPC.NOT_FOUND;
  if (httpStatus === 429) return GRPC.RESOURCE_EXHAUSTED;
  if (httpStatus === 503) return GRPC.UNAVAILABLE;
  return GRPC.INTERNAL;
}

/** A JSON value as google.protobuf.Value (protobufjs object form). */
function toValue(v: unknown): Record<string, unknown> {
  if (v === null || v === undefined) return { null_value: 0 };
  if (typeof v === 'number') return { number_value: v };
  if (typeof v === 'string') return { string_value: v };
  if (typeof v === 'boolean') return { bool_value: v };
  if (Array.isArray(v)) return { list_value: { values: v.map(toValue) } };
  return { struct_value: toStruct(v as Record<string, unknown>) };
}

function toStruct(o: Record<string, unknown>): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) fields[k] = toValue(v);
  return { fields };
}

export function decodeFetchRequest(body: Buffer): { ids: string[]; namespace: string } {
  let message: { ids?: string[]; namespace?: string };
  try {
    message = FetchRequest.decode(body) as unknown as { ids?: string[]; namespace?: string };
  } catch (err) {
    throw new ApiError(400, `The fetch request could not be parsed: ${(err as Error).message}`);
  }
  const ids = message.ids ?? [];
  if (ids.length === 0) throw new ApiError(400, 'The fetch request must name at least one id');
  if (ids.length > LIMITS.idsPerFetch) throw new ApiError(400, `The fetch request names ${ids.length} ids, which exceeds the limit of ${LIMITS.idsPerFetch}`);
  for (const id of ids) validateId(id);
  return { ids: [...new Set(ids)], namespace: message.namespace ?? '' };
}

export function encodeFetchResponse(index: IndexStore, namespace: string, ids: string[]): Buffer {
  const ns = index.namespace(namespace);
  const vectors: FetchedVector[] = [];
  const dim = index.config.dimension;
  if (ns) {
    for (const id of ids) {
      const slot = ns.slotOf(id);
      if (slot === undefined) continue;
      const vector: FetchedVector = { id };
      if (dim > 0) {
        const { floats, offset } = ns.valuesAt(slot);
        vector.values = floats.subarray(offset, offset + dim);
      }
      const sparse = ns.sparseAt(slot);
      if (sparse) vector.sparse = sparse;
      const metadata = ns.metadataAt(slot);
      if (metadata !== undefined) vector.metadata = JSON.parse(metadata) as Record<string, unknown>;
      vectors.push(vector);
    }
  }
  return encodeFetchAnswer(namespace, vectors, Math.max(1, Math.ceil(ids.length / 10)));
}

/** One vector of a fetch answer, as the emulator holds it. */
export interface FetchedVector {
  id: string;
  values?: Float32Array;
  sparse?: { indices: ArrayLike<number>; values: ArrayLike<number> };
  metadata?: Record<string, unknown>;
}

/** The FetchResponse bytes the emulator sends for these vectors (also what `bench:floor` decodes). */
export function encodeFetchAnswer(namespace: string, vectors: readonly FetchedVector[], readUnits: number): Buffer {
  const byId: Record<string, unknown> = {};
  for (const v of vectors) {
    const vector: Record<string, unknown> = { id: v.id };
    if (v.values) {
      const values = v.values;
      if (LITTLE_ENDIAN_HOST) vector['values'] = Buffer.from(values.buffer, values.byteOffset, values.byteLength);
      else {
        const le = Buffer.allocUnsafe(values.length * 4);
        values.forEach((x, d) => le.writeFloatLE(x, d * 4));
        vector['values'] = le;
      }
    }
    if (v.sparse) vector['sparse_values'] = { indices: Array.from(v.sparse.indices), values: Array.from(v.sparse.values) };
    if (v.metadata !== undefined) vector['metadata'] = toStruct(v.metadata);
    byId[v.id] = vector;
  }
  const message = FetchResponse.fromObject({ vectors: byId, namespace, usage: { read_units: readUnits } });
  return Buffer.from(FetchResponse.encode(message).finish());
}

/** One gRPC message in its length-prefixed frame (uncompressed). */
export function frame(message: Buffer): Buffer {
  const out = Buffer.allocUnsafe(5 + message.length);
  out[0] = 0;
  out.writeUInt32BE(message.length, 1);
  message.copy(out, 5);
  return out;
}

/** The first message of a request body; a compressed one is refused (p2m's client never sends one). */
export function unframe(body: Buffer): Buffer {
  if (body.length < 5) throw new ApiError(400, 'gRPC request body shorter than its 5-byte frame header');
  if (body[0] !== 0) throw new ApiError(400, 'compressed gRPC requests are not supported by the emulator');
  const length = body.readUInt32BE(1);
  if (body.length < 5 + length) throw new ApiError(400, 'gRPC request body shorter than its frame says');
  return body.subarray(5, 5 + length);
}

/** gRPC's percent-encoding of grpc-message: only bytes outside printable ASCII, and '%' itself. */
function percentEncode(message: string): string {
  return message.replace(/[^\x20-\x24\x26-\x7e]/gu, (c) => encodeURIComponent(c));
}

/** Answers `stream` with `status` and nothing else (a "trailers-only" gRPC response). */
export function sendGrpcError(stream: http2.ServerHttp2Stream, code: number, message: string): void {
  if (stream.destroyed || stream.headersSent) return;
  const retry = code === GRPC.RESOURCE_EXHAUSTED ? { 'retry-after': '1' } : {};
  stream.respond(
    { ':status': 200, 'content-type': 'application/grpc', 'grpc-status': String(code), 'grpc-message': percentEncode(message), ...retry },
    { endStream: true },
  );
}

export function sendGrpcMessage(stream: http2.ServerHttp2Stream, message: Buffer): void {
  if (stream.destroyed) return;
  stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
  stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
  stream.end(frame(message));
}

export function readStream(stream: http2.ServerHttp2Stream, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    stream.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new ApiError(400, `request body over ${limit} bytes`));
        stream.close(http2.constants.NGHTTP2_CANCEL);
        return;
      }
      chunks.push(c);
    });
    stream.once('end', () => resolve(Buffer.concat(chunks)));
    stream.once('error', reject);
  });
}

/** `socket` as a stream that first yields `first` (already read from it), then the rest. */
function withPrefix(socket: net.Socket, first: Buffer): Duplex {
  const duplex = new Duplex({
    read: () => void socket.resume(),
    write: (chunk: Buffer, _encoding, done) => void socket.write(chunk, done),
    final: (done) => {
      socket.end();
      done();
    },
    destroy: (err, done) => {
      socket.destroy(err ?? undefined);
      done(err);
    },
  });
  duplex.push(first);
  socket.on('data', (d: Buffer) => {
    if (!duplex.push(d)) socket.pause();
  });
  socket.once('end', () => duplex.push(null));
  socket.once('close', () => duplex.destroy());
  return duplex;
}

/**
 * One port for both planes: a connection that opens with HTTP/2's preface ("PRI * HTTP/2.0") goes
 * to `h2` (gRPC, cleartext), any other to `http1` (REST). No HTTP/1.1 method starts with "PRI".
 */
export class DualProtocolServer {
  readonly front: net.Server;
  readonly http1: Server;
  readonly h2: http2.Http2Server;
  /** Every connection of the port (neither inner server listens, so neither tracks them). */
  readonly #sockets = new Set<net.Socket>();

  constructor(http1: Server, h2: http2.Http2Server) {
    this.http1 = http1;
    this.h2 = h2;
    this.front = net.createServer({ noDelay: true }, (socket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
      socket.on('error', () => socket.destroy());
      socket.once('data', (first: Buffer) => {
        socket.pause();
        if (first.subarray(0, 4).toString('latin1') === 'PRI ') {
          // An HTTP/2 session reads its socket's handle directly and would miss the bytes read here.
          h2.emit('connection', withPrefix(socket, first));
        } else {
          socket.unshift(first);
          http1.emit('connection', socket);
          socket.resume();
        }
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.front.close(() => resolve());
      for (const socket of this.#sockets) socket.destroy();
    });
  }
}
