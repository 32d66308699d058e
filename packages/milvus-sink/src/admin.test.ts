import { execFileSync } from 'node:child_process';
import { DataType } from '@zilliz/milvus2-sdk-node';
import { describe, expect, it } from 'vitest';
import { parseJobSpec, planCollection, type TargetCapabilities } from '@p2m/core';
import { fullCapabilities, liteCapabilities } from '@p2m/testing';
import { createAdmin, DATA_TYPES } from './admin.ts';
import type { MilvusConnection } from './connection.ts';

describe('the sink without the SDK', () => {
  it("writes the SDK's own DataType values", () => {
    expect(DATA_TYPES).toEqual({ VarChar: DataType.VarChar, FloatVector: DataType.FloatVector, SparseFloatVector: DataType.SparseFloatVector });
  });

  it('does not load the Milvus SDK until a call needs it (a loader writes, deletes and flushes without it)', () => {
    // A fresh process: this one has loaded the SDK above.
    const script = [
      "import { createRequire } from 'node:module';",
      "await import('@p2m/milvus-sink');",
      'const cache = Object.keys(createRequire(import.meta.url).cache);',
      "const client = (k) => k.includes('milvus2-sdk-node') && k.endsWith('MilvusClient.js');",
      'console.log(JSON.stringify({ client: cache.some(client), grpc: cache.some((k) => k.includes("@grpc/grpc-js")) }));',
    ].join('\n');
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: new URL('.', import.meta.url), encoding: 'utf8' });
    // The sink's own channel (grpc-js) is loaded; the SDK's client is not.
    expect(JSON.parse(out.trim().split('\n').pop()!)).toEqual({ client: false, grpc: true });
  });
});

describe('creating the collection', () => {
  const ok = { error_code: 'Success', code: 0, reason: '' };
  /** A target that records the calls the admin makes; no collection exists and no index either. */
  function target() {
    const calls: string[] = [];
    const client = {
      createCollection: () => (calls.push('createCollection'), Promise.resolve(ok)),
      describeIndex: () => (calls.push('describeIndex'), Promise.resolve({ status: { error_code: 'IndexNotExist', code: 700, reason: 'index not found' } })),
      getCollectionStatistics: () => Promise.resolve({ status: ok, data: { row_count: '0' } }),
      createIndex: ({ field_name, index_type }: { field_name: string; index_type: string }) => (
        calls.push(`createIndex ${field_name} ${index_type}`),
        Promise.resolve(ok)
      ),
    };
    const conn = {
      address: 'h:1',
      timeout: 100,
      longTimeout: 1_000,
      collectionNames: () => Promise.resolve([]),
      call: (_ctx: unknown, fn: (c: unknown) => Promise<unknown>) => fn(client),
    } as unknown as MilvusConnection;
    return { admin: createAdmin(conn), calls };
  }
  const planFor = (capabilities: TargetCapabilities) =>
    planCollection({
      spec: parseJobSpec({ source: { apiKey: 'k', index: 'idx' }, target: { address: 'h:1', collection: 'coll' } }),
      index: { name: 'idx', dimension: 2, metric: 'cosine', vectorType: 'dense', deployment: 'serverless', host: 'h', ready: true },
      namespaces: [{ name: 'ns', recordCount: 2 }],
      capabilities,
    });

  it('creates the vector index with it on a server that needs a load to query and does not say where it builds (Zilliz Cloud), so the load gets indexed as it goes', async () => {
    const { admin, calls } = target();
    const plan = planFor(fullCapabilities());
    await admin.createCollection(plan);
    expect(calls).toEqual(['createCollection', 'describeIndex', `createIndex ${plan.names.vector} ${plan.indexes[0]!.indexType}`]);
  });

  it('leaves the index to verification on Milvus Lite', async () => {
    const { admin, calls } = target();
    await admin.createCollection(planFor(liteCapabilities()));
    expect(calls).toEqual(['createCollection']);
  });
});
