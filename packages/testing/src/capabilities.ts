import type { Capability, TargetCapabilities } from '@p2m/core';

const said = <T>(value: T): Capability<T> => ({ value, how: 'documented', detail: 'test fixture' });

/**
 * A target that can do everything a migration may need (Milvus 2.6 / Zilliz Cloud), for plans made
 * in tests without a server; `overrides` take away what a test is about.
 */
export function fullCapabilities(overrides: Partial<TargetCapabilities> = {}): TargetCapabilities {
  return {
    serverVersion: 'v2.6.4',
    milvusVersion: '2.6.4',
    sparseVectors: said(true),
    nullableVectors: said(true),
    emptySparseRows: said(false),
    partitionKey: said(true),
    upsertHonoursPartitionKey: said(true),
    upsertReplacesDynamicField: said(true),
    maxPartitions: said(1024),
    dynamicField: said(true),
    persistsAcknowledgedWrites: said<boolean | null>(true),
    queryNeedsLoad: said(true),
    indexNodesApart: said<boolean | null>(null),
    ...overrides,
  };
}

/** What Milvus Lite 3.2.2 answers to the probe (measured here): nullable sparse fields, no durability, queries unloaded, upserts merge $meta. */
export function liteCapabilities(overrides: Partial<TargetCapabilities> = {}): TargetCapabilities {
  return fullCapabilities({
    serverVersion: 'milvus_lite-3.2.2',
    milvusVersion: null,
    persistsAcknowledgedWrites: said<boolean | null>(false),
    queryNeedsLoad: said(false),
    upsertReplacesDynamicField: said(false),
    ...overrides,
  });
}

/** The answer of a capability in a test, e.g. `{ sparseVectors: capability(false) }`. */
export function capability<T>(value: T): Capability<T> {
  return said(value);
}
