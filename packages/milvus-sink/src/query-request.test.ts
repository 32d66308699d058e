import protobuf from 'protobufjs';
import milvusProto from '@zilliz/milvus2-sdk-node/dist/milvus/proto-json/milvus.js';
import { describe, expect, it } from 'vitest';
import { parseJobSpec, planCollection, type CollectionPlan } from '@p2m/core';
import { fullCapabilities } from '@p2m/testing';
import { answerToRecords, decodeQueryResults, encodeQueryRequest } from './query-request.ts';

// The oracle is the SDK's own copy of the Milvus protos, through protobufjs: what a Milvus server
// reads from our request bytes, and answers that a server could send us.
const root = protobuf.Root.fromJSON(((milvusProto as unknown as { default?: protobuf.INamespace }).default ?? milvusProto) as protobuf.INamespace);
const QueryRequest = root.lookupType('milvus.proto.milvus.QueryRequest');
const QueryResults = root.lookupType('milvus.proto.milvus.QueryResults');

function plan(o: { partitionKey?: boolean; metric?: 'cosine' | 'dotproduct'; primaryKey?: 'id' | 'namespaceAndId' } = {}): CollectionPlan {
  return planCollection({
    spec: parseJobSpec({
      source: { apiKey: 'k', index: 'idx' },
      target: { address: 'h:1', collection: 'coll', partitionKey: o.partitionKey ?? true, primaryKey: o.primaryKey ?? 'id' },
    }),
    index: { name: 'idx', dimension: 3, metric: o.metric ?? 'dotproduct', vectorType: 'dense', deployment: 'serverless', host: 'h', ready: true },
    namespaces: [{ name: 'ns', recordCount: 3 }],
    capabilities: fullCapabilities(),
  });
}

const sparseBytes = (pairs: [number, number][]): Buffer => {
  const b = Buffer.alloc(pairs.length * 8);
  pairs.forEach(([i, v], k) => {
    b.writeUInt32LE(i, k * 8);
    b.writeFloatLE(v, k * 8 + 4);
  });
  return b;
};

function answer(fields: object[], status: object = { error_code: 0, code: 0 }): Buffer {
  return Buffer.from(QueryResults.encode(QueryResults.fromObject({ status, fields_data: fields, collection_name: 'coll' })).finish());
}

describe('the column-wise query path', () => {
  it('encodes a QueryRequest that Milvus reads as meant', () => {
    const bytes = encodeQueryRequest({
      collection: 'coll',
      expr: 'id in ["a", "b\\"c"]',
      outputFields: ['id', '$meta'],
      partitionNames: ['p1'],
      params: { limit: '2', iterator: 'True' },
    });
    const req = QueryRequest.toObject(QueryRequest.decode(bytes), { enums: String, longs: String, defaults: true, arrays: true });
    expect(req).toMatchObject({
      collection_name: 'coll',
      expr: 'id in ["a", "b\\"c"]',
      output_fields: ['id', '$meta'],
      partition_names: ['p1'],
      query_params: [
        { key: 'limit', value: '2' },
        { key: 'iterator', value: 'True' },
      ],
      consistency_level: 'Strong',
      guarantee_timestamp: '0',
    });
  });

  it('reads at a flush timestamp when given one: Customized, the timestamp exact', () => {
    const bytes = encodeQueryRequest({ collection: 'coll', expr: 'id > ""', outputFields: ['id'], guaranteeTs: 449912345678901299n });
    const req = QueryRequest.toObject(QueryRequest.decode(bytes), { enums: String, longs: String, defaults: true });
    expect(req).toMatchObject({
      collection_name: 'coll',
      consistency_level: 'Customized',
      guarantee_timestamp: '449912345678901299',
      use_default_consistency: false,
    });
  });

  it('reads rows back: ids, namespaces, dense views, sparse rows (NULL, compact), metadata', () => {
    const p = plan();
    const bytes = answer([
      { type: 21, field_name: 'id', scalars: { string_data: { data: ['r1', 'r2', 'r3'] } } },
      { type: 21, field_name: 'namespace', scalars: { string_data: { data: ['ns', 'ns', 'other'] } } },
      { type: 101, field_name: 'vector', vectors: { dim: 3, float_vector: { data: [0.5, 1, -2, 0.25, 0, 3, 1e-30, 7, 8] } } },
      // Nullable sparse field, compact: two values for rows 1 and 3; row 1 holds a zero weight too.
      {
        type: 104,
        field_name: 'sparse_vector',
        valid_data: [true, false, true],
        vectors: {
          sparse_float_vector: {
            contents: [
              sparseBytes([
                [9, 0.5],
                [2, 0],
                [4, 1.5],
              ]),
              sparseBytes([[1, 2]]),
            ],
            dim: 10,
          },
        },
      },
      {
        type: 23,
        field_name: '$meta',
        is_dynamic: true,
        scalars: { json_data: { data: [Buffer.from('{"a":1,"tags":["x"]}'), Buffer.from('{}'), Buffer.from('{"b":true}')] } },
      },
    ]);
    const decoded = decodeQueryResults(bytes);
    expect(decoded.status.code).toBe(0);
    const rows = answerToRecords(p, decoded, '');
    expect(rows.map((r) => [r.namespace, r.id, Array.from(r.values!), r.metadata])).toEqual([
      ['ns', 'r1', [0.5, 1, -2], { a: 1, tags: ['x'] }],
      ['ns', 'r2', [0.25, 0, 3], null],
      ['other', 'r3', [Math.fround(1e-30), 7, 8], { b: true }],
    ]);
    expect(rows.map((r) => (r.sparse ? [r.sparse.indices, Array.from(r.sparse.values)] : null))).toEqual([
      [
        [4, 9],
        [1.5, 0.5],
      ],
      null,
      [[1], [2]],
    ]);
  });

  it('reads a row-dense nullable column (one slot per row) the same way', () => {
    const p = plan();
    const bytes = answer([
      { type: 21, field_name: 'id', scalars: { string_data: { data: ['r1', 'r2'] } } },
      { type: 21, field_name: 'namespace', scalars: { string_data: { data: ['ns', 'ns'] } } },
      { type: 101, field_name: 'vector', vectors: { dim: 3, float_vector: { data: [1, 2, 3, 4, 5, 6] } } },
      {
        type: 104,
        field_name: 'sparse_vector',
        valid_data: [false, true],
        vectors: { sparse_float_vector: { contents: [Buffer.alloc(0), sparseBytes([[3, 1]])], dim: 4 } },
      },
    ]);
    const rows = answerToRecords(p, decodeQueryResults(bytes), '');
    expect(rows.map((r) => r.sparse && r.sparse.indices)).toEqual([null, [3]]);
    expect(rows.map((r) => r.metadata)).toEqual([null, null]);
  });

  it('takes the namespace it asked for in partitions mode, and passes a failed status on', () => {
    const p = plan({ partitionKey: false, metric: 'cosine' });
    const rows = answerToRecords(p, decodeQueryResults(answer([{ type: 21, field_name: 'id', scalars: { string_data: { data: ['r1'] } } }])), 'ns');
    expect(rows).toEqual([{ kind: 'vector', namespace: 'ns', id: 'r1', values: null, sparse: null, metadata: null }]);
    const failed = decodeQueryResults(answer([], { error_code: 1, code: 101, reason: 'collection not loaded' }));
    expect(failed.status).toMatchObject({ code: 101, reason: 'collection not loaded' });
  });
});
