import { describe, expect, it } from 'vitest';
import protobuf from 'protobufjs';
import { PINECONE_DATA_PROTO, VECTOR_SERVICE_PROTO } from '@p2m/emulator';
import { ProtobufWireError } from '@p2m/core';
import { decodeFetchResponse, encodeFetchRequest } from './grpc-wire.ts';
import { grpcTarget } from './grpc-fetch.ts';

/**
 * The hand-written reader against protobufjs on the same .proto text: what a protobuf parser must
 * accept besides the packed encoding the emulator (and Pinecone) send — repeated scalars one per
 * field, a repeated field split in two, fields it does not know — and what it must refuse.
 */

function rootWith(dataProto: string): protobuf.Root {
  const root = new protobuf.Root();
  protobuf.parse(VECTOR_SERVICE_PROTO, root, { keepCase: true });
  protobuf.parse(dataProto, root, { keepCase: true });
  root.resolveAll();
  return root;
}

const PACKED = rootWith(PINECONE_DATA_PROTO);
// The same messages with repeated scalars unpacked, and a field Pinecone might add later.
const UNPACKED = rootWith(
  PINECONE_DATA_PROTO.replace('repeated uint32 indices = 1;', 'repeated uint32 indices = 1 [packed=false];')
    .replace(/repeated float values = 2;/g, 'repeated float values = 2 [packed=false];')
    .replace('SparseValues sparse_values = 4; }', 'SparseValues sparse_values = 4; string future_field = 9; }'),
);

const metadata = {
  title: 'Titre ✓',
  year: 2024,
  score: -0.5,
  flag: true,
  none: null,
  tags: ['a', 'b'],
  nested: { deep: [1, { x: 'y' }] },
  ['__proto__']: 'kept',
};
const struct = (o: Record<string, unknown>): unknown => ({ fields: Object.fromEntries(Object.entries(o).map(([k, v]) => [k, value(v)])) });
function value(v: unknown): unknown {
  if (v === null) return { null_value: 0 };
  if (typeof v === 'number') return { number_value: v };
  if (typeof v === 'string') return { string_value: v };
  if (typeof v === 'boolean') return { bool_value: v };
  if (Array.isArray(v)) return { list_value: { values: v.map(value) } };
  return { struct_value: struct(v as Record<string, unknown>) };
}

function response(root: protobuf.Root): Buffer {
  const type = root.lookupType('FetchResponse');
  const obj = {
    namespace: 'ns',
    vectors: {
      a: { id: 'a', values: [1.5, -0, 3.4028234663852886e38, 1e-45], metadata: struct(Object.fromEntries(Object.entries(metadata))), future_field: 'x' },
      b: { id: 'b', values: [], sparse_values: { indices: [0, 4294967295, 7], values: [0.25, 1, 2] } },
    },
  };
  return Buffer.from(type.encode(type.fromObject(obj)).finish());
}

describe('gRPC fetch wire format', () => {
  for (const [name, root] of [
    ['packed', PACKED],
    ['unpacked, with an unknown field', UNPACKED],
  ] as const) {
    it(`reads a FetchResponse encoded by protobufjs (${name})`, () => {
      const { vectors, namespace } = decodeFetchResponse(response(root));
      expect(namespace).toBe('ns');
      const a = vectors.get('a')!;
      expect(a.values).toBeInstanceOf(Float32Array);
      expect(Array.from(a.values!)).toEqual([1.5, -0, 3.4028234663852886e38, Math.fround(1e-45)]);
      expect(Object.is(a.values![1], -0)).toBe(true);
      expect(a.metadata).toEqual(JSON.parse(JSON.stringify(metadata)));
      expect(Object.getPrototypeOf(a.metadata)).toBe(Object.prototype);
      expect(Object.keys(a.metadata!)).toContain('__proto__');
      expect(a.sparseValues).toBeUndefined();
      const b = vectors.get('b')!;
      expect(b.values!.length).toBe(0);
      expect(b.sparseValues!.indices).toEqual([0, 4294967295, 7]);
      expect(Array.from(b.sparseValues!.values)).toEqual([0.25, 1, 2]);
    });
  }

  it('joins a repeated float field sent in two parts', () => {
    const type = PACKED.lookupType('Vector');
    const first = Buffer.from(type.encode(type.fromObject({ id: 'x', values: [1, 2] })).finish());
    const second = Buffer.from(type.encode(type.fromObject({ values: [3] })).finish());
    const entry = Buffer.concat([Buffer.from([0x0a, 1]), Buffer.from('x'), Buffer.from([0x12, first.length + second.length]), first, second]);
    const message = Buffer.concat([Buffer.from([0x0a, entry.length]), entry]);
    expect(Array.from(decodeFetchResponse(message).vectors.get('x')!.values!)).toEqual([1, 2, 3]);
  });

  it('writes a FetchRequest protobufjs reads back', () => {
    const type = PACKED.lookupType('FetchRequest');
    const ids = ['a', 'é-ü', 'x'.repeat(512)];
    expect(type.toObject(type.decode(encodeFetchRequest(ids, 'tenant-a')))).toEqual({ ids, namespace: 'tenant-a' });
  });

  it('refuses a truncated answer instead of reading past it', () => {
    const whole = response(PACKED);
    expect(() => decodeFetchResponse(whole.subarray(0, whole.length - 3))).toThrow(ProtobufWireError);
  });

  it('reaches the index host as Pinecone serves it: TLS on 443 unless the host says otherwise', () => {
    expect(grpcTarget('docs-abc123.svc.aped-4627-b74a.pinecone.io')).toEqual({ address: 'docs-abc123.svc.aped-4627-b74a.pinecone.io:443', tls: true });
    expect(grpcTarget('https://docs.svc.pinecone.io')).toEqual({ address: 'docs.svc.pinecone.io:443', tls: true });
    expect(grpcTarget('http://127.0.0.1:5081')).toEqual({ address: '127.0.0.1:5081', tls: false });
    expect(grpcTarget('http://[::1]:5081')).toEqual({ address: '[::1]:5081', tls: false });
  });
});
