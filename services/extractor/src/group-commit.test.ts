import { describe, expect, it } from 'vitest';
import { GroupCommit } from './group-commit.ts';

/** A write that waits until released, recording what each write carried. */
function gatedWriter() {
  const writes: string[][] = [];
  const gates: (() => void)[] = [];
  let failNext: unknown;
  const write = async (items: string[]): Promise<void> => {
    writes.push(items);
    await new Promise<void>((resolve) => gates.push(resolve));
    if (failNext !== undefined) {
      const err = failNext;
      failNext = undefined;
      throw err;
    }
  };
  return {
    writes,
    write,
    release: async () => {
      gates.shift()?.();
      for (let i = 0; i < 5; i++) await Promise.resolve();
    },
    failWith: (err: unknown) => void (failNext = err),
  };
}

describe('GroupCommit', () => {
  it('writes a lone submission at once, and groups what arrives while a write is in flight, in order', async () => {
    const w = gatedWriter();
    const group = new GroupCommit(w.write, { maxItems: 100 });
    const settled: string[] = [];
    void group.submit(['a1']).then(() => settled.push('a'));
    expect(w.writes).toEqual([['a1']]);
    void group.submit(['b1', 'b2']).then(() => settled.push('b'));
    void group.submit(['c1']).then(() => settled.push('c'));
    expect(w.writes).toHaveLength(1); // waiting behind the write in flight
    await w.release();
    expect(settled).toEqual(['a']);
    expect(w.writes).toEqual([['a1'], ['b1', 'b2', 'c1']]);
    await w.release();
    expect(settled).toEqual(['a', 'b', 'c']);
    expect(group.writes).toBe(2);
  });

  it('keeps each submission whole and a group within maxItems and maxWeight', async () => {
    const w = gatedWriter();
    const group = new GroupCommit(w.write, { maxItems: 3, maxWeight: 10, weigh: (s: string) => s.length });
    void group.submit(['first']);
    void group.submit(['x', 'y']);
    void group.submit(['z', 'w']); // would make 4 items: next write
    void group.submit(['0123456789']); // weight 10 alone
    void group.submit(['big', 'bigger', 'biggest', 'more']); // over both limits, still whole
    for (let i = 0; i < 5; i++) await w.release();
    expect(w.writes).toEqual([['first'], ['x', 'y'], ['z', 'w'], ['0123456789'], ['big', 'bigger', 'biggest', 'more']]);
  });

  it('a failed write rejects its own submitters only; the next group is written', async () => {
    const w = gatedWriter();
    const group = new GroupCommit(w.write, { maxItems: 100 });
    const first = group.submit(['a']);
    w.failWith(new Error('broker said no'));
    const second = group.submit(['b']);
    const third = group.submit(['c']);
    await w.release();
    await expect(first).rejects.toThrow('broker said no');
    await w.release();
    await expect(Promise.all([second, third])).resolves.toEqual([undefined, undefined]);
    expect(w.writes).toEqual([['a'], ['b', 'c']]);
  });

  it('resolves an empty submission without writing', async () => {
    const w = gatedWriter();
    const group = new GroupCommit(w.write, { maxItems: 10 });
    await expect(group.submit([])).resolves.toBeUndefined();
    expect(w.writes).toEqual([]);
  });
});
