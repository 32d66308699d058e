import { parseJobSpec, planCollection, type CollectionPlan, type VectorRecord } from '@p2m/core';
import { generateRecords, type GeneratedRecord, type GeneratorOptions } from '@p2m/emulator';
import { fullCapabilities } from '@p2m/testing';

/**
 * The benchmark's datasets: the emulator's deterministic generator (768-d float32 dense, chunked
 * document metadata, 4 namespaces), dense or hybrid (dense + 50 sparse non-zeros). The emulator
 * serves exactly these records, and the sink measurements write exactly these records.
 */
export type DatasetKind = 'dense' | 'hybrid';

export const DIM = 768;
export const NAMESPACES = 4;
export const SPARSE_NON_ZEROS = 50;

/** The benchmark's dataset; `shape` changes its dimension or namespaces (the verification bench runs dim 8). */
/** A dataset's shape: dimension, namespaces, and how ids are made (`reused`: the same ids in every namespace). */
export interface DatasetShape {
  dim?: number;
  namespaces?: number;
  ids?: 'documents' | 'ordered' | 'reused';
}

export function datasetOptions(kind: DatasetKind, count: number, shape: DatasetShape = {}): GeneratorOptions {
  return {
    ...(shape.ids ? { ids: shape.ids } : {}),
    seed: 7,
    count,
    dim: shape.dim ?? DIM,
    namespaces: shape.namespaces ?? NAMESPACES,
    sparse: kind === 'hybrid',
    sparseNonZeros: SPARSE_NON_ZEROS,
    edgeCases: false,
    float32: true,
  };
}

export const metricOf = (kind: DatasetKind): 'cosine' | 'dotproduct' => (kind === 'hybrid' ? 'dotproduct' : 'cosine');

export function toVectorRecord(g: GeneratedRecord): VectorRecord {
  return {
    kind: 'vector',
    namespace: g.namespace,
    id: g.id,
    values: g.values ? Float32Array.from(g.values) : null,
    sparse: g.sparseValues ? { indices: g.sparseValues.indices, values: Float32Array.from(g.sparseValues.values) } : null,
    metadata: (g.metadata as VectorRecord['metadata']) ?? null,
  };
}

export function vectorRecords(kind: DatasetKind, count: number): VectorRecord[] {
  return Array.from(generateRecords(datasetOptions(kind, count)), toVectorRecord);
}

/** The plan a job would make for this dataset (partition-key mode, the default). */
export function benchPlan(kind: DatasetKind, collection: string, address: string): CollectionPlan {
  const spec = parseJobSpec({ source: { apiKey: 'bench', index: `bench-${kind}` }, target: { address, collection } });
  return planCollection({
    spec,
    index: { name: `bench-${kind}`, dimension: DIM, metric: metricOf(kind), vectorType: 'dense', deployment: 'serverless', host: 'bench', ready: true },
    namespaces: Array.from({ length: NAMESPACES }, (_, j) => ({ name: j === 0 ? '' : `ns-${j}`, recordCount: 0 })),
    capabilities: fullCapabilities(),
  });
}
