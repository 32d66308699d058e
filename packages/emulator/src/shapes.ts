// Index shapes: the ways real Pinecone indexes differ from the tidy default dataset, each one a
// named set of generator options and the index it is seeded into. A migration has to carry
// every one of them whole; the shape corpus tests and `p2m emulator seed --shape NAME` use them.

import { SPARSE_LATE_START, fewPerNamespaceCount } from './generator.ts';
import type { GeneratorOptions } from './generator.ts';
import type { Metric, VectorType } from './validation.ts';

export type ShapeName = 'hybrid-partial-sparse' | 'sparse-late' | 'sparse-only' | 'reused-ids' | 'odd-namespaces' | 'many-namespaces' | 'metadata-mix';

/** What `shapeOptions` takes from a caller; a shape refuses the settings it decides itself. */
export type ShapeSetting = 'count' | 'dim' | 'namespaces' | 'metric' | 'sparse';

export interface Shape {
  readonly name: ShapeName;
  /** What the shape is, and what it catches in a migration. */
  readonly description: string;
  /** The index it is seeded into (the metric is the default where `fixed` does not list it). */
  readonly index: { readonly vectorType: VectorType; readonly metric: Metric; readonly sparseValues: 'every record' | 'some records' | 'none' };
  readonly defaults: { readonly count: number; readonly dim: number; readonly namespaces: number };
  /** Settings the shape decides: giving one to `shapeOptions` is an error. */
  readonly fixed: readonly ShapeSetting[];
}

/** What a caller may choose; anything left out takes the shape's default. */
export interface ShapeRequest {
  seed?: number;
  count?: number;
  dim?: number;
  /** How many namespaces (the default namespace `""` first). */
  namespaces?: number;
  metric?: Metric;
  /** Add sparse values to every record (a hybrid index, dotproduct), where the shape allows it. */
  sparse?: boolean;
}

/** Generator options for a shape, plus the metric of the index to seed them into (`seedIndex` takes both). */
export type ShapeOptions = GeneratorOptions & { metric: Metric };

/**
 * Namespace names a naive mapping to Milvus partition names gets wrong: characters a partition
 * name cannot hold, names that differ only by case or by '-' against '_', the name of Milvus's
 * own default partition, and one longer than Milvus's 255 characters. Pinecone namespace names
 * are ASCII (1–512 characters), so none is non-ASCII.
 */
export const ODD_NAMESPACES: readonly string[] = [
  '',
  'tenant-a',
  'tenant_a',
  'Tenant-A',
  'TENANT_A',
  'Tenant_B.2024',
  '_default',
  '2024 Q1 / EMEA: "west" & more?',
  `tenant-${'0123456789'.repeat(25)}-end`,
];

export const SHAPES: readonly Shape[] = [
  {
    name: 'hybrid-partial-sparse',
    description:
      'A dotproduct dense index where about 1 record in 5 has no sparse values: the first and third record of every namespace in list order, the rest at random. A plan sampled from the first records sees no sparse field; a loader that needs sparse values on every row dead-letters a fifth of the index.',
    index: { vectorType: 'dense', metric: 'dotproduct', sparseValues: 'some records' },
    defaults: { count: 5_000, dim: 16, namespaces: 3 },
    fixed: ['metric', 'sparse'],
  },
  {
    name: 'sparse-late',
    description: `A dotproduct dense index whose first ${SPARSE_LATE_START.toLocaleString('en-US')} records in list order, in every namespace, have no sparse values and every later one has them. A schema planned from the first pages of the index has no sparse field for what comes later.`,
    index: { vectorType: 'dense', metric: 'dotproduct', sparseValues: 'some records' },
    defaults: { count: 6_000, dim: 16, namespaces: 2 },
    fixed: ['metric', 'sparse'],
  },
  {
    name: 'sparse-only',
    description: 'A sparse index (vector_type sparse, dotproduct): every record has sparse values and no dense ones (fetch answers values: []).',
    index: { vectorType: 'sparse', metric: 'dotproduct', sparseValues: 'every record' },
    defaults: { count: 3_000, dim: 0, namespaces: 3 },
    fixed: ['metric', 'sparse', 'dim'],
  },
  {
    name: 'reused-ids',
    description:
      "Multi-tenant style: every namespace holds the same ids r0, r1, … with its own vectors and metadata. A target keyed by id alone keeps one namespace's copy of each; count must be a multiple of the namespaces.",
    index: { vectorType: 'dense', metric: 'cosine', sparseValues: 'none' },
    defaults: { count: 3_000, dim: 16, namespaces: 3 },
    fixed: [],
  },
  {
    name: 'odd-namespaces',
    description: `Namespaces that are not valid Milvus partition names: ${ODD_NAMESPACES.map((n) => JSON.stringify(n.length > 40 ? `${n.slice(0, 12)}…(${n.length} characters)` : n)).join(', ')}; several collide under a naive sanitiser (lower case, '-' to '_').`,
    index: { vectorType: 'dense', metric: 'cosine', sparseValues: 'none' },
    defaults: { count: 100 * ODD_NAMESPACES.length, dim: 16, namespaces: ODD_NAMESPACES.length },
    fixed: ['namespaces'],
  },
  {
    name: 'many-namespaces',
    description:
      'One namespace per tenant: many namespaces (default 5,000, the default namespace among them) of 1 to 3 records each; the record count follows from the seed. What costs here is per namespace, not per record.',
    index: { vectorType: 'dense', metric: 'cosine', sparseValues: 'none' },
    defaults: { count: fewPerNamespaceCount(42, 5_000), dim: 8, namespaces: 5_000 },
    fixed: ['count'],
  },
  {
    name: 'metadata-mix',
    description:
      'Metadata of every Pinecone type (string, integer, float, boolean, list of strings, empty list), keys with dots, spaces and non-ASCII letters, one key whose type changes from record to record, lists of 200 strings and texts of 16-24 KB; about 1 record in 7 without metadata and 1 in 11 with {}.',
    index: { vectorType: 'dense', metric: 'cosine', sparseValues: 'none' },
    defaults: { count: 3_000, dim: 16, namespaces: 2 },
    fixed: [],
  },
];

export function shapeNamed(name: string): Shape {
  const shape = SHAPES.find((s) => s.name === name);
  if (!shape) throw new RangeError(`unknown shape ${JSON.stringify(name)}; the shapes are ${SHAPES.map((s) => s.name).join(', ')}`);
  return shape;
}

/**
 * The generator options (and index metric) of a shape: `generateRecords(shapeOptions(name))`
 * makes its records, `seedIndex({ ...shapeOptions(name), index, url })` seeds an index with them.
 * Deterministic from `seed` (default 42).
 */
export function shapeOptions(name: ShapeName, request: ShapeRequest = {}): ShapeOptions {
  const shape = shapeNamed(name);
  for (const setting of shape.fixed) {
    if (request[setting] !== undefined) throw new RangeError(`shape ${name} decides ${setting} itself; leave it out`);
  }
  const seed = request.seed ?? 42;
  const namespaces = request.namespaces ?? shape.defaults.namespaces;
  const dim = request.dim ?? shape.defaults.dim;
  const count = request.count ?? shape.defaults.count;
  const hybrid = request.sparse ?? false;
  const metric = request.metric ?? (hybrid ? 'dotproduct' : shape.index.metric);
  if (hybrid && metric !== 'dotproduct') throw new RangeError(`sparse values need the dotproduct metric, not ${metric}`);
  const base = { seed, dim, count, namespaces, ids: 'ordered' as const, ...(hybrid ? { sparse: true } : {}) };
  switch (name) {
    case 'hybrid-partial-sparse':
      return { ...base, sparse: 'partial', metric: 'dotproduct' };
    case 'sparse-late':
      return { ...base, sparse: 'late', metric: 'dotproduct' };
    case 'sparse-only':
      return { ...base, dim: 0, sparse: 'only', metric: 'dotproduct' };
    case 'reused-ids':
      if (count % namespaces !== 0) {
        throw new RangeError(`reused-ids puts the same ids in every namespace: count (${count}) must be a multiple of namespaces (${namespaces})`);
      }
      return { ...base, ids: 'reused', metric };
    case 'odd-namespaces':
      return { ...base, namespaces: ODD_NAMESPACES, metric };
    case 'many-namespaces':
      return { ...base, layout: 'few-per-namespace', count: fewPerNamespaceCount(seed, namespaces), metric };
    case 'metadata-mix':
      return { ...base, metadata: 'mixed', metric };
  }
}
