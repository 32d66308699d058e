import protobuf from 'protobufjs';
import milvusProto from '@zilliz/milvus2-sdk-node/dist/milvus/proto-json/milvus.js';
import { describe, expect, it } from 'vitest';
import { decodeFlushResponse, decodeFlushStateResponse, encodeDeleteRequest, encodeFlushRequest, encodeFlushStateRequest } from './grpc-writer.ts';

/** The requests and answers of the write channel, checked against protobufjs and the SDK's own protos. */
const root = protobuf.Root.fromJSON(((milvusProto as unknown as { default?: protobuf.INamespace }).default ?? milvusProto) as protobuf.INamespace);
const type = (name: string): protobuf.Type => root.lookupType(`milvus.proto.milvus.${name}`);
const asObject = (name: string, bytes: Buffer): Record<string, unknown> =>
  type(name).toObject(type(name).decode(bytes), { longs: String, defaults: true, arrays: true }) as Record<string, unknown>;

// Segment ids and timestamps are int64 values far above 2^53: they must travel exactly.
const BIG = ['449912345678901234', '9223372036854775807', '1'];

describe('write channel messages', () => {
  it('writes DeleteRequest with collection, partition and filter, as protobufjs reads them', () => {
    const expr = 'id in ["a", "b\\"c", "é"]';
    expect(asObject('DeleteRequest', encodeDeleteRequest('coll', expr, 'part_1'))).toMatchObject({ collection_name: 'coll', partition_name: 'part_1', expr });
    expect(asObject('DeleteRequest', encodeDeleteRequest('coll', expr))).toMatchObject({ collection_name: 'coll', partition_name: '', expr });
  });

  it('writes FlushRequest and GetFlushStateRequest, segment ids exact', () => {
    expect(asObject('FlushRequest', encodeFlushRequest('coll')).collection_names).toEqual(['coll']);
    expect(asObject('GetFlushStateRequest', encodeFlushStateRequest(BIG.map(BigInt))).segmentIDs).toEqual(BIG);
  });

  it('reads every segment id of a FlushResponse, exact, and its status', () => {
    const FlushResponse = type('FlushResponse');
    const bytes = Buffer.from(
      FlushResponse.encode(
        FlushResponse.fromObject({
          status: { error_code: 0, code: 0 },
          db_name: 'default',
          coll_segIDs: { coll: { data: BIG.slice(0, 2) }, other: { data: [BIG[2]] } },
          flush_coll_segIDs: { coll: { data: ['7'] } },
          coll_seal_times: { coll: '1733000000' },
          coll_flush_ts: { coll: '449912345678901299' },
        }),
      ).finish(),
    );
    const answer = decodeFlushResponse(bytes);
    expect(answer.segmentIds.map(String).sort()).toEqual([...BIG].sort());
    expect(answer.status.error_code).toBe('Success');
    // The flush's timestamp (above 2^53), exact: verification reads every write before it.
    expect(answer.flushTs).toBe(449912345678901299n);

    const refused = Buffer.from(
      FlushResponse.encode(FlushResponse.fromObject({ status: { error_code: 4, code: 100, reason: 'collection not found' } })).finish(),
    );
    expect(decodeFlushResponse(refused)).toEqual({
      status: { error_code: 'CollectionNotExists', code: 100, reason: 'collection not found', retriable: false },
      segmentIds: [],
      flushTs: null,
    });
  });

  it('takes the latest flush timestamp of a FlushResponse naming several collections', () => {
    const FlushResponse = type('FlushResponse');
    const bytes = Buffer.from(
      FlushResponse.encode(FlushResponse.fromObject({ status: {}, coll_flush_ts: { a: '449912345678901299', b: '449912345678901300' } })).finish(),
    );
    expect(decodeFlushResponse(bytes).flushTs).toBe(449912345678901300n);
  });

  it('reads GetFlushStateResponse', () => {
    const T = type('GetFlushStateResponse');
    expect(decodeFlushStateResponse(Buffer.from(T.encode(T.fromObject({ status: {}, flushed: true })).finish())).flushed).toBe(true);
    expect(decodeFlushStateResponse(Buffer.from(T.encode(T.fromObject({ status: {}, flushed: false })).finish())).flushed).toBe(false);
  });
});
