import { describe, expect, it } from 'vitest';
import { EtlError, createSourceBudgets } from '@p2m/core';
import { runExtraction } from './runtime.ts';
import { ArrayProducer, delaySends, setup, vectorIds } from './runtime.fixture.ts';

// Many namespaces at once: small ones read together within the budgets, Kafka writes group-committed,
// long ones limited to namespaceConcurrency past their first page; retries under the shared budget.
describe('runExtraction with many namespaces', () => {
  it('small namespaces written together: a failed group write checkpoints none of them, and a restart publishes each namespace whole', async () => {
    const { source, producer, checkpoints, base } = setup({ partitions: 2 });
    const names = Array.from({ length: 60 }, (_, i) => `t${String(i).padStart(2, '0')}`);
    for (const ns of names) source.add(ns, 2);
    delaySends(producer, 2);
    producer.failOn = 3; // the third Kafka write carries several namespaces' pages and markers
    const err = (await runExtraction(base({ namespaces: names, namespacesInFlight: 16 })).catch((e: unknown) => e)) as EtlError;
    expect(err).toBeInstanceOf(EtlError);
    const saved = await checkpoints.load('job1');
    // Each checkpoint follows its own acknowledged write: a namespace marked done has its records and markers in the log.
    for (const [ns, cp] of saved) {
      expect(cp.done).toBe(true);
      expect(vectorIds(producer, ns)).toEqual(['id-0000', 'id-0001']);
      expect(producer.records().filter((m) => m.record.namespace === ns && m.record.kind === 'end')).toHaveLength(2);
    }
    expect(saved.size).toBeGreaterThan(0);
    expect(saved.size).toBeLessThan(60);

    const second = new ArrayProducer();
    const result = await runExtraction(base({ namespaces: names, producer: second }));
    expect(result.namespaces.every((n) => n.done && n.recordsPublished === 2)).toBe(true);
    for (const ns of names) {
      // never skipped: published before the failure and checkpointed, or published (again) now
      const ids = saved.has(ns) ? vectorIds(producer, ns) : vectorIds(second, ns);
      expect(ids).toEqual(['id-0000', 'id-0001']);
      expect(saved.has(ns) ? vectorIds(second, ns) : []).toEqual([]);
    }
  });

  it('backs off on 429s and 5xx, slows the shared budget, and succeeds', async () => {
    const { source, producer, base } = setup();
    const ids = source.add('ns', 30);
    const rateLimited = () => new EtlError('RATE_LIMITED', 'Pinecone rate-limited list (HTTP 429)', { details: { status: 429 } });
    source.failures.list.push(rateLimited(), rateLimited(), rateLimited());
    source.failures.fetch.push(new EtlError('TRANSIENT', 'HTTP 503'), rateLimited());
    const budgets = createSourceBudgets({ listPerSecond: 10_000, fetchPerSecond: 10_000 });
    const retries: string[] = [];
    const result = await runExtraction(base({ budgets, onRetry: ({ operation, error }) => retries.push(`${operation} ${(error as EtlError).code}`) }));
    expect(vectorIds(producer)).toEqual(ids);
    expect(result.namespaces[0]).toMatchObject({ recordsPublished: 30, done: true });
    expect(retries.filter((r) => r === 'list RATE_LIMITED')).toHaveLength(3);
    expect(retries).toContain('fetch TRANSIENT');
    expect(budgets.list.state().throttled).toBe(3);
    expect(budgets.fetch.state().throttled).toBe(1);
    expect(budgets.list.rate()).toBeLessThan(10_000);
  });

  it('runs at most namespaceConcurrency namespaces past their first page at once', async () => {
    const { source, base } = setup({ namespaceConcurrency: 2 });
    for (const ns of ['n1', 'n2', 'n3', 'n4', 'n5']) source.add(ns, 25);
    const result = await runExtraction(base());
    expect(result.namespaces.every((n) => n.done && n.recordsPublished === 25)).toBe(true);
    expect(source.maxMultiPageNamespaces).toBe(2);
  });

  it('reads many small namespaces at once and group-commits their sends and checkpoints', async () => {
    const { source, producer, checkpoints, base } = setup({ namespaceConcurrency: 2, partitions: 3 });
    const names = Array.from({ length: 300 }, (_, i) => `tenant-${String(i).padStart(3, '0')}`);
    for (const ns of names) source.add(ns, 1 + (ns.charCodeAt(9) % 2));
    delaySends(producer, 2);
    const result = await runExtraction(base({ namespaces: names, namespacesInFlight: 32 }));
    expect(result.namespaces.every((n) => n.done)).toBe(true);
    expect(source.maxInFlightNamespaces).toBeGreaterThan(2);
    expect(source.maxInFlightNamespaces).toBeLessThanOrEqual(32);
    // every record once, every namespace's markers on every partition after its records
    const all = producer.records();
    for (const ns of names) {
      const mine = all.filter((m) => m.record.namespace === ns);
      expect(mine.filter((m) => m.record.kind === 'vector').map((m) => (m.record.kind === 'vector' ? m.record.id : ''))).toEqual([
        ...source.data.get(ns)!.keys(),
      ]);
      expect(mine.slice(-3).map((m) => [m.record.kind, m.partition])).toEqual([
        ['end', 0],
        ['end', 1],
        ['end', 2],
      ]);
    }
    expect((await checkpoints.load('job1')).size).toBe(300);
    expect([...(await checkpoints.load('job1')).values()].every((cp) => cp.done)).toBe(true);
    // one write per namespace before; now far fewer
    expect(result.writes.records).toBeLessThan(100);
    expect(result.writes.checkpoints).toBeLessThan(100);
    expect(producer.sends).toBe(result.writes.records);
  });

  it('treats "" and "__default__" as one namespace', async () => {
    const { source, producer, base } = setup();
    source.add('', 3);
    const result = await runExtraction(base({ namespaces: ['__default__', ''] }));
    expect(result.namespaces).toHaveLength(1);
    expect(vectorIds(producer, '')).toHaveLength(3);
  });

  it('fetches the chunks of one page concurrently within the budget', async () => {
    const { source, base } = setup({ fetchBatchSize: 2 });
    source.add('ns', 10);
    let inFlight = 0;
    let most = 0;
    source.onFetch = async () => {
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise((r) => setTimeout(r, 5));
      inFlight--;
    };
    await runExtraction(base());
    expect(most).toBe(5);
  });
});
