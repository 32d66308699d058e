import { describe, expect, it } from 'vitest';
import { checkpointKey, createMemoryCheckpointStore, type Checkpoint } from './checkpoints.ts';

const cp = (over: Partial<Checkpoint> = {}): Checkpoint => ({
  jobId: 'j1',
  namespace: 'ns',
  paginationToken: null,
  recordsPublished: 0,
  pages: 0,
  done: false,
  ...over,
});

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

  it('keys checkpoints extract/<jobId>/<namespace>', () => {
    expect(checkpointKey('j1', '')).toBe('extract/j1/');
    expect(checkpointKey('j1', 'a/b')).toBe('extract/j1/a/b');
  });
});
