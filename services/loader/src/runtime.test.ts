import { describe, expect, it } from 'vitest';
import { createLogger, parseJobSpec, planCollection, type ConsumerBatch, type LogConsumer, type MilvusSinkPort, type PartitionOffset, type VectorRecord } from '@p2m/core';
import { decodeCounts, runLoader } from './runtime.ts';

const plan = planCollection({
  spec: parseJobSpec({ source: { apiKey: 'k', index: 'idx' }, target: { address: '127.0.0.1:19530', collection: 'c' } }),
  index: { name: 'idx', dimension: 2, metric: 'cosine', vectorType: 'dense', deployment: 'serverless', host: 'h', ready: true },
  namespaces: [{ name: '', recordCount: 100 }],
  sparseDetected: false,
});

/** A batch of `count` records of partition 0 starting at `from`. */
function batch(from: number, count: number): ConsumerBatch {
  return {
    topic: 't',
    partition: 0,
    messages: Array.from({ length: count }, (_, i) => ({
      topic: 't',
      partition: 0,
      offset: String(from + i),
      key: null,
      value: Buffer.from(`r${from + i}`),
      headers: {},
      timestamp: '0',
    })),
    heartbeat: async () => undefined,
    isStale: () => false,
  };
}

describe('runLoader offset-metadata counts', () => {
  it('re-reads the committed counts when another member advanced the partition meanwhile', async () => {
    // What the group coordinator holds for partition 0.
    let committed: PartitionOffset | null = null;
    let metadataReads = 0;
    const deliveries: ((handler: (b: ConsumerBatch) => Promise<void>) => Promise<void>)[] = [
      (h) => h(batch(0, 3)),
      (h) => h(batch(3, 2)),
      // The partition was revoked and handed back: another member loaded offsets 5..9 and committed
      // its counts (5 + 5 = 10) before this member got the partition again.
      async (h) => {
        committed = { partition: 0, offset: '10', metadata: JSON.stringify({ l: 10, d: 0, ns: { '': { l: 10, d: 0 } } }) };
        await h(batch(10, 4));
      },
    ];
    const consumer: LogConsumer = {
      run: async (handler) => {
        for (const deliver of deliveries) await deliver(handler);
      },
      commit: async (_topic, offsets) => {
        committed = offsets[0]!;
      },
      stop: async () => undefined,
    };
    const sink = { upsert: async () => undefined } as unknown as MilvusSinkPort;
    await runLoader({
      jobId: 'j',
      topic: 't',
      dlqTopic: 'd',
      plan,
      consumer,
      producer: { send: async () => undefined, close: async () => undefined },
      sink,
      decode: async (value): Promise<VectorRecord> => ({ kind: 'vector', namespace: '', id: value.toString(), values: new Float32Array([1, 0]), sparse: null, metadata: null }),
      batchBytes: 1 << 20,
      committedMetadata: async () => {
        metadataReads++;
        return committed?.metadata ?? null;
      },
      sinkDeadlineMs: 1_000,
      signal: new AbortController().signal,
      log: createLogger('test', { level: 'silent' }),
    });
    const final = committed as PartitionOffset | null;
    expect(final?.offset).toBe('14');
    expect(decodeCounts(final?.metadata)).toEqual({ loaded: 14, failed: 0, byNamespace: { '': { l: 14, d: 0 } } });
    // Read when first seen and when taken over; the batch continuing its own commit used the cache.
    expect(metadataReads).toBe(2);
  });
});
