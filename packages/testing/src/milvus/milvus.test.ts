import { describe, expect, it } from 'vitest';
import { parseJobSpec, planCollection, type VectorRecord } from '@p2m/core';
import { fullCapabilities, liteCapabilities } from '../capabilities.ts';
import { InMemoryMilvus } from './milvus.ts';

const plan = planCollection({
  spec: parseJobSpec({ source: { apiKey: 'k', index: 'idx' }, target: { address: 'fake:19530', collection: 'c' } }),
  index: { name: 'idx', dimension: 2, metric: 'cosine', vectorType: 'dense', deployment: 'serverless', host: 'h', ready: true },
  namespaces: [{ name: '', recordCount: 3 }],
  capabilities: liteCapabilities(),
});
const record = (id: string, values = [1, 2]): VectorRecord => ({
  kind: 'vector',
  namespace: '',
  id,
  values: new Float32Array(values),
  sparse: null,
  metadata: null,
});

async function setUp(milvus: InMemoryMilvus) {
  const target = milvus.connect();
  await target.createCollection(plan);
  await target.loadCollection(plan);
  return target;
}

describe('InMemoryMilvus', () => {
  it('writes per record: invalid ones and refused ones come back with their reason, the rest is stored', async () => {
    const milvus = new InMemoryMilvus({ capabilities: fullCapabilities() });
    milvus.refuse = (r) => (r.id === 'b' ? 'refused by the test' : null);
    const target = await setUp(milvus);
    const result = await target.writer(plan, { flushBeforeCommit: false }).write({ records: [record('a'), record('b'), record('c', [1])] }, 0);
    expect(result.rejected).toEqual([
      { index: 1, code: 'RECORD_REJECTED', reason: 'refused by the test' },
      { index: 2, code: 'RECORD_INVALID', reason: expect.stringMatching(/dimension|values/) },
    ]);
    expect(await target.listIds(plan, '', null, 10)).toEqual(['a']);
  });

  it('like Milvus Lite, loses unflushed writes on a restart; preCommit writes them again before it confirms', async () => {
    const milvus = new InMemoryMilvus({ capabilities: liteCapabilities() });
    const target = await setUp(milvus);
    const writer = target.writer(plan, { flushBeforeCommit: true });
    await writer.write({ records: [record('a'), record('b')] }, 0);
    milvus.restart();
    expect(await target.countByNamespace(plan, [''])).toEqual(new Map([['', 0]]));
    expect(await writer.preCommit([{ partition: 0, offset: '2' }])).toEqual([{ partition: 0, offset: '2' }]);
    milvus.restart();
    expect(await target.listIds(plan, '', null, 10)).toEqual(['a', 'b']);
  });

  it('without flush-before-commit on such a server, a restart loses acknowledged writes (what the plan guards against)', async () => {
    const milvus = new InMemoryMilvus({ capabilities: liteCapabilities() });
    const target = await setUp(milvus);
    const writer = target.writer(plan, { flushBeforeCommit: false });
    await writer.write({ records: [record('a')] }, 0);
    expect(await writer.preCommit([{ partition: 0, offset: '1' }])).toHaveLength(1);
    milvus.restart();
    expect(await target.listIds(plan, '', null, 10)).toEqual([]);
  });

  it('refuses queries on an unloaded collection where the server needs a load, and answers retriably while down', async () => {
    const milvus = new InMemoryMilvus({ capabilities: fullCapabilities() });
    const target = milvus.connect();
    await target.createCollection(plan);
    await expect(target.countByNamespace(plan, [''])).rejects.toMatchObject({ retriable: false, message: /not loaded/ });
    milvus.down = true;
    await expect(target.collectionExists('c')).rejects.toMatchObject({ code: 'TARGET_UNAVAILABLE', retriable: true });
  });
});
