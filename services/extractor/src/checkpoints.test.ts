import { describe, expect, it } from 'vitest';
import { CHECKPOINTS_TOPIC, type IncomingMessage, type LogProducer, type OutgoingMessage } from '@p2m/core';
import { checkpointKey, createLogCheckpointStore, createMemoryCheckpointStore, decodeCheckpointJson, encodeCheckpointJson, type Checkpoint } from './checkpoints.ts';

const cp = (over: Partial<Checkpoint> = {}): Checkpoint => ({
  jobId: 'j1',
  namespace: 'ns',
  paginationToken: null,
  recordsPublished: 0,
  pages: 0,
  done: false,
  ...over,
});

/** A one-partition log: what the producer sends, readAll returns. */
function fakeLog() {
  const log: IncomingMessage[] = [];
  const producer: LogProducer = {
    async send(topic: string, messages: OutgoingMessage[]) {
      for (const m of messages) {
        log.push({
          topic,
          partition: 0,
          offset: String(log.length),
          key: m.key === null ? null : Buffer.from(m.key),
          value: m.value,
          headers: {},
          timestamp: '0',
        });
      }
    },
    async close() {},
  };
  const readAll = async (topic: string) => log.filter((m) => m.topic === topic);
  return { log, producer, readAll };
}

describe('checkpoint stores', () => {
  it('memory: keeps the last checkpoint per namespace of a job', async () => {
    const store = createMemoryCheckpointStore([cp({ jobId: 'other' })]);
    await store.save(cp({ pages: 1, paginationToken: 't1', recordsPublished: 10 }));
    await store.save(cp({ pages: 2, paginationToken: 't2', recordsPublished: 20 }));
    await store.save(cp({ namespace: '', pages: 1, done: true }));
    const loaded = await store.load('j1');
    expect([...loaded.keys()].sort()).toEqual(['', 'ns']);
    expect(loaded.get('ns')).toMatchObject({ pages: 2, paginationToken: 't2', recordsPublished: 20 });
    expect(store.history).toHaveLength(3);
  });

  it('log: writes key extract/<jobId>/<namespace> to p2m.checkpoints; last value wins; tombstones and other jobs ignored', async () => {
    const { log, producer, readAll } = fakeLog();
    const store = createLogCheckpointStore({ producer, readAll });
    await store.save(cp({ pages: 1, paginationToken: 't1', recordsPublished: 100 }));
    await store.save(cp({ jobId: 'j10', pages: 9 })); // a job id that shares a prefix
    await store.save(cp({ namespace: 'gone', pages: 1 }));
    await store.save(cp({ pages: 2, paginationToken: 't2', recordsPublished: 200 }));
    await producer.send(CHECKPOINTS_TOPIC, [{ key: checkpointKey('j1', 'gone'), value: null }]);
    await producer.send('p2m.jobs', [{ key: checkpointKey('j1', 'ns'), value: Buffer.from('not a checkpoint') }]);

    expect(log[0]!.topic).toBe(CHECKPOINTS_TOPIC);
    expect(log[0]!.key!.toString()).toBe('extract/j1/ns');
    const loaded = await store.load('j1');
    expect([...loaded.keys()]).toEqual(['ns']);
    expect(loaded.get('ns')).toEqual(cp({ pages: 2, paginationToken: 't2', recordsPublished: 200 }));
    expect((await store.load('j10')).get('ns')).toMatchObject({ pages: 9 });
  });

  it('log: uses the injected codec', async () => {
    const { producer, readAll } = fakeLog();
    const seen: string[] = [];
    const store = createLogCheckpointStore({
      producer,
      readAll,
      encode: async (c) => {
        seen.push('enc');
        return encodeCheckpointJson(c);
      },
      decode: (b) => {
        seen.push('dec');
        return decodeCheckpointJson(b);
      },
    });
    await store.save(cp({ namespace: '', done: true }));
    expect((await store.load('j1')).get('')).toMatchObject({ done: true });
    expect(seen).toEqual(['enc', 'dec']);
  });

  it('JSON codec refuses a malformed value', () => {
    expect(() => decodeCheckpointJson(Buffer.from('{"jobId":"j"}'))).toThrow(/expected shape/);
    expect(decodeCheckpointJson(encodeCheckpointJson(cp({ paginationToken: 'x' })))).toEqual(cp({ paginationToken: 'x' }));
  });
});
