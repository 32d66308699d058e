import protobuf from 'protobufjs';
import milvusProto from '@zilliz/milvus2-sdk-node/dist/milvus/proto-json/milvus.js';
import { describe, expect, it } from 'vitest';
import { parseJobSpec, planCollection, type CollectionPlan, type VectorRecord } from '@p2m/core';
import { decodeMutationResult, parseAddress } from './grpc-writer.ts';
import { writerKind } from './connection.ts';
import { fullCapabilities } from '@p2m/testing';
import { encodeUpsertRequest } from './upsert-request.ts';

// The oracle is the SDK's own copy of the Milvus protos, decoded by protobufjs: what a Milvus
// server reads from our hand-written bytes.
const root = protobuf.Root.fromJSON(((milvusProto as unknown as { default?: protobuf.INamespace }).default ?? milvusProto) as protobuf.INamespace);
const UpsertRequest = root.lookupType('milvus.proto.milvus.UpsertRequest');
const MutationResult = root.lookupType('milvus.proto.milvus.MutationResult');

interface Decoded {
  collection_name: string;
  partition_name: string;
  num_rows: number;
  fields_data: {
    type: string;
    field_name: string;
    is_dynamic: boolean;
    scalars?: { string_data?: { data: string[] }; json_data?: { data: Buffer[] } };
    vectors?: { dim: string; float_vector?: { data: number[] }; sparse_float_vector?: { contents: Buffer[]; dim: string } };
  }[];
}

function decode(bytes: Buffer): Decoded {
  return UpsertRequest.toObject(UpsertRequest.decode(bytes), { enums: String, longs: String, defaults: true, arrays: true }) as Decoded;
}

function plan(
  o: { partitionKey?: boolean; sparse?: boolean; vectorType?: 'dense' | 'sparse'; dim?: number; fields?: Record<string, string> } = {},
): CollectionPlan {
  const spec = parseJobSpec({
    source: { apiKey: 'k', index: 'idx' },
    target: { address: '127.0.0.1:19530', collection: 'coll', partitionKey: o.partitionKey ?? true, ...(o.fields ? { fields: o.fields } : {}) },
  });
  return planCollection({
    spec,
    index: {
      name: 'idx',
      dimension: o.vectorType === 'sparse' ? null : (o.dim ?? 4),
      metric: o.sparse || o.vectorType === 'sparse' ? 'dotproduct' : 'cosine',
      vectorType: o.vectorType ?? 'dense',
      deployment: 'serverless',
      host: 'h',
      ready: true,
    },
    namespaces: ['', 'ns', 'other'].map((name) => ({ name, recordCount: 1 })),
    capabilities: fullCapabilities(),
  });
}

const rec = (id: string, extra: Partial<VectorRecord> = {}): VectorRecord => ({
  kind: 'vector',
  namespace: 'ns',
  id,
  values: Float32Array.from([0.1, -2.5, 3.4028234663852886e38, 1.401298464324817e-45]),
  sparse: null,
  metadata: null,
  ...extra,
});

const field = (d: Decoded, name: string) => d.fields_data.find((f) => f.field_name === name)!;

describe('encodeUpsertRequest', () => {
  it('writes every column of a hybrid partition-key batch as Milvus decodes it', () => {
    const p = plan({ sparse: true });
    const metadata = { genre: 'drama', year: 1994, score: 0.5, ok: true, tags: ['a', 'b "q"'], uni: 'ünï 🚀' };
    const records = [
      rec('a', { sparse: { indices: [9, 4_294_967_294, 2], values: Float32Array.from([0.5, 1, 2]) }, metadata }),
      rec('ü-é', { namespace: '', values: Float32Array.from([1, 2, 3, 4]), sparse: null }),
    ];
    const d = decode(encodeUpsertRequest(p, undefined, records));
    expect(d.collection_name).toBe('coll');
    expect(d.partition_name).toBe('');
    expect(d.num_rows).toBe(2);
    expect(d.fields_data.map((f) => [f.field_name, f.type, f.is_dynamic])).toEqual([
      ['id', 'VarChar', false],
      ['namespace', 'VarChar', false],
      ['vector', 'FloatVector', false],
      ['sparse_vector', 'SparseFloatVector', false],
      ['$meta', 'JSON', true],
    ]);
    expect(field(d, 'id').scalars!.string_data!.data).toEqual(['a', 'ü-é']);
    expect(field(d, 'namespace').scalars!.string_data!.data).toEqual(['ns', '']);
    const vec = field(d, 'vector').vectors!;
    expect(vec.dim).toBe('4');
    expect(vec.float_vector!.data).toEqual([...Array.from(records[0]!.values!), 1, 2, 3, 4]);
    const sparse = field(d, 'sparse_vector').vectors!.sparse_float_vector!;
    expect(sparse.dim).toBe('4294967295');
    const row0 = Buffer.from(sparse.contents[0]!);
    expect([0, 1, 2].map((k) => [row0.readUInt32LE(k * 8), row0.readFloatLE(k * 8 + 4)])).toEqual([
      [2, 2],
      [9, 0.5],
      [4_294_967_294, 1],
    ]);
    expect(sparse.contents[1]!.length).toBe(0);
    const json = field(d, '$meta').scalars!.json_data!.data.map((b) => JSON.parse(Buffer.from(b).toString('utf8')) as unknown);
    expect(json).toEqual([metadata, {}]);
  });

  it('names the partition in partitions mode, renames fields, and has no namespace column', () => {
    const p = plan({ partitionKey: false, fields: { id: 'pk', vector: 'emb', namespace: 'ns_field' } });
    const d = decode(encodeUpsertRequest(p, 'other', [rec('x')]));
    expect(d.partition_name).toBe('other');
    expect(d.fields_data.map((f) => f.field_name)).toEqual(['pk', 'emb', '$meta']);
  });

  it('encodes a sparse-only batch and large batches with multi-byte lengths exactly', () => {
    const p = plan({ vectorType: 'sparse' });
    const d = decode(encodeUpsertRequest(p, undefined, [rec('s', { values: null, sparse: { indices: [3], values: Float32Array.from([1.5]) } })]));
    expect(d.fields_data.map((f) => f.field_name)).toEqual(['id', 'namespace', 'sparse_vector', '$meta']);
    expect(field(d, 'sparse_vector').vectors!.sparse_float_vector!.dim).toBe('4');

    const big = plan({ dim: 768 });
    const records = Array.from({ length: 300 }, (_, i) =>
      rec(`doc-${i}`, { values: Float32Array.from({ length: 768 }, (_, k) => i + k / 1024), metadata: { i } }),
    );
    const decoded = decode(encodeUpsertRequest(big, undefined, records));
    expect(decoded.num_rows).toBe(300);
    const flat = field(decoded, 'vector').vectors!.float_vector!.data;
    expect(flat.length).toBe(300 * 768);
    expect(flat.slice(768 * 299, 768 * 299 + 3)).toEqual([299, 299 + 1 / 1024, 299 + 2 / 1024]);
  });
});

describe('the gRPC writer helpers', () => {
  it('decodes a MutationResult with the status names the error classifier reads', () => {
    const bytes = Buffer.from(
      MutationResult.encode(
        MutationResult.fromObject({ status: { error_code: 'IllegalArgument', code: 1100, reason: 'bad dim' }, err_index: [2, 5], upsert_cnt: 3 }),
      ).finish(),
    );
    const res = decodeMutationResult(bytes);
    expect(res.status).toMatchObject({ error_code: 'IllegalArgument', code: 1100, reason: 'bad dim', retriable: false });
    expect(res.err_index).toEqual([2, 5]);
    expect(res.upsert_cnt).toBe('3');
    expect(decodeMutationResult(Buffer.alloc(0)).status.error_code).toBe('Success');
    const ok = Buffer.from(
      MutationResult.encode(
        MutationResult.fromObject({
          status: { error_code: 'Success', code: 0 },
          upsert_cnt: 4000,
          succ_index: [0, 1, 2],
          IDs: { str_id: { data: ['a', 'b'] } },
          timestamp: '461234567890123456',
        }),
      ).finish(),
    );
    expect(decodeMutationResult(ok)).toEqual({ status: { error_code: 'Success', code: 0, reason: '', retriable: false }, err_index: [], upsert_cnt: '4000' });
    const negative = Buffer.from(MutationResult.encode(MutationResult.fromObject({ status: { error_code: 'RateLimit', code: -5, retriable: true } })).finish());
    expect(decodeMutationResult(negative).status).toEqual({ error_code: 'RateLimit', code: -5, reason: '', retriable: true });
  });

  it('parses addresses as the SDK takes them', () => {
    expect(parseAddress('127.0.0.1:19530', undefined)).toEqual({ target: '127.0.0.1:19530', tls: false });
    expect(parseAddress('https://in01-abc.zillizcloud.com', undefined)).toEqual({ target: 'in01-abc.zillizcloud.com:443', tls: true });
    expect(parseAddress('http://localhost', undefined)).toEqual({ target: 'localhost:19530', tls: false });
    expect(parseAddress('host:19541', true)).toEqual({ target: 'host:19541', tls: true });
  });
});

describe('writerKind', () => {
  it('defaults to the gRPC path, follows P2M_MILVUS_WRITER, and refuses anything else', () => {
    expect(writerKind(undefined, {})).toBe('grpc');
    expect(writerKind(undefined, { P2M_MILVUS_WRITER: 'sdk' })).toBe('sdk');
    expect(writerKind('grpc', { P2M_MILVUS_WRITER: 'sdk' })).toBe('grpc');
    expect(() => writerKind(undefined, { P2M_MILVUS_WRITER: 'fast' })).toThrow(/grpc.*sdk/);
  });
});
