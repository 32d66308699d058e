import { describe, expect, it } from 'vitest';
import { parseJobSpec, planCollection, type IndexDescription } from '@p2m/core';
import { capability, fullCapabilities, liteCapabilities } from '@p2m/testing';
import { planLines } from './plan-lines.ts';

const index: IndexDescription = { name: 'idx', dimension: 4, metric: 'dotproduct', vectorType: 'dense', deployment: 'serverless', host: 'h', ready: true };
const namespaces = [
  { name: '', recordCount: 3 },
  { name: 'docs', recordCount: 2 },
];
const planFor = (target: Record<string, unknown>, caps = fullCapabilities()) =>
  planCollection({
    spec: parseJobSpec({ source: { apiKey: 'k', index: 'idx' }, target: { address: 'm:19530', collection: 'c', ...target } }),
    index,
    namespaces,
    capabilities: caps,
  });

describe('p2m jobs plan: what the collection will be and why', () => {
  it('names the primary key mode, how sparse rows are stored, the flush policy, and each capability with how it is known', () => {
    const text = planLines(planFor({}, liteCapabilities())).join('\n');
    expect(text).toMatch(/primary key: "id" = the record id/);
    expect(text).toMatch(/sparse values: a record without sparse values stores NULL/);
    expect(text).toMatch(/flush the collection before they commit/);
    expect(text).toMatch(/index on \w+: \w+ \/ \w+, created after the load, by verification/);
    expect(text).toMatch(/CAPABILITY\s+VALUE\s+HOW KNOWN\s+WHAT THE JOB DOES/);
    expect(text).toMatch(/nullableVectors\s+true\s+\w+\s+"sparse_vector" is nullable/);
  });

  it('namespaceAndId, partitions, an empty-row target that persists writes', () => {
    const caps = fullCapabilities({ nullableVectors: capability(false), emptySparseRows: capability(true), persistsAcknowledgedWrites: capability(true) });
    const lines = planLines(planFor({ primaryKey: 'namespaceAndId', partitionKey: false }, caps));
    const text = lines.join('\n');
    expect(text).toMatch(/= namespace and id/);
    expect(text).toMatch(/namespaces: one partition each/);
    expect(text).toMatch(/partitions: .*docs/);
    expect(text).toMatch(/stores an empty sparse row/);
    expect(text).toMatch(/commit offsets without flushing/);
    expect(text).toMatch(/index on \w+: \w+ \/ \w+, created with the collection, built during the load/);
  });
});
