import { EtlError, type IndexDescription, type ListPage, type NamespaceInfo, type PineconeMetric, type PineconeSourcePort, type SourceVector } from '@p2m/core';

/**
 * A fake Pinecone behind `PineconeSourcePort`: serverless indexes of generated records (record i of
 * a namespace depends only on the seed, the namespace and i), listed in id order with the last id as
 * the pagination token, fetched by id. `failNext` makes the next calls of an operation fail.
 */
export interface FakeIndexOptions {
  name: string;
  dimension?: number;
  metric?: PineconeMetric;
  /** Namespace ('' = default) → record count. */
  namespaces: Record<string, number>;
  /** Records with sparse values as well (a hybrid dotproduct index): every `sparseEvery`-th one. */
  sparseEvery?: number;
  seed?: number;
}

export type SourceOperation = 'describeIndex' | 'listNamespaces' | 'listPage' | 'fetch';

export class FakePineconeIndex implements PineconeSourcePort {
  readonly options: Required<FakeIndexOptions>;
  readonly records = new Map<string, Map<string, SourceVector>>();
  readonly calls: Record<SourceOperation, number> = { describeIndex: 0, listNamespaces: 0, listPage: 0, fetch: 0 };
  readonly #failures: Record<SourceOperation, unknown[]> = { describeIndex: [], listNamespaces: [], listPage: [], fetch: [] };

  constructor(options: FakeIndexOptions) {
    this.options = { dimension: 4, metric: options.sparseEvery ? 'dotproduct' : 'cosine', sparseEvery: 0, seed: 1, ...options };
    for (const [ns, count] of Object.entries(options.namespaces)) {
      const byId = new Map<string, SourceVector>();
      for (let i = 0; i < count; i++) {
        const v = this.#generate(ns, i);
        byId.set(v.id, v);
      }
      this.records.set(ns, byId);
    }
  }

  #generate(namespace: string, i: number): SourceVector {
    const { seed, dimension, sparseEvery } = this.options;
    const base = seed * 1_000_003 + i * 7 + namespace.length;
    const values = Array.from({ length: dimension }, (_, d) => Math.fround(Math.sin(base + d) * 0.5));
    const sparse = sparseEvery > 0 && i % sparseEvery === 0 ? { indices: [i % 97, 100 + (i % 13)], values: [0.25, 0.5] } : undefined;
    return {
      id: `${namespace || 'default'}-${String(i).padStart(6, '0')}`,
      values,
      ...(sparse ? { sparseValues: sparse } : {}),
      metadata: { n: i, tag: i % 2 === 0 ? 'even' : 'odd' },
    };
  }

  /** The next `count` calls of `operation` throw `error` (e.g. a 429 as RATE_LIMITED). */
  failNext(operation: SourceOperation, error: unknown, count = 1): void {
    for (let i = 0; i < count; i++) this.#failures[operation].push(error);
  }

  #enter(operation: SourceOperation): void {
    this.calls[operation]++;
    const failure = this.#failures[operation].shift();
    if (failure !== undefined) throw failure;
  }

  async describeIndex(): Promise<IndexDescription> {
    this.#enter('describeIndex');
    const { name, dimension, metric } = this.options;
    return { name, dimension, metric, vectorType: 'dense', deployment: 'serverless', host: `${name}.fake`, ready: true };
  }

  async listNamespaces(): Promise<NamespaceInfo[]> {
    this.#enter('listNamespaces');
    return [...this.records].map(([name, byId]) => ({ name, recordCount: byId.size })).sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  async listPage(namespace: string, paginationToken: string | null, limit = 100): Promise<ListPage> {
    this.#enter('listPage');
    const ids = [...(this.records.get(namespace)?.keys() ?? [])].sort().filter((id) => paginationToken === null || id > paginationToken);
    const page = ids.slice(0, limit);
    return { ids: page, next: ids.length > limit ? page[page.length - 1]! : null };
  }

  async fetch(namespace: string, ids: string[]): Promise<SourceVector[]> {
    this.#enter('fetch');
    const byId = this.records.get(namespace);
    return ids.flatMap((id) => (byId?.has(id) ? [structuredClone(byId.get(id)!)] : []));
  }
}

/** A project of fake indexes: the source factory the controller and the extractor are given. */
export class FakePinecone {
  readonly indexes = new Map<string, FakePineconeIndex>();

  constructor(indexes: FakeIndexOptions[] = []) {
    for (const options of indexes) this.add(options);
  }

  add(options: FakeIndexOptions): FakePineconeIndex {
    const index = new FakePineconeIndex(options);
    this.indexes.set(options.name, index);
    return index;
  }

  /** What `createPineconeSource` would give for this spec: an unknown index answers SOURCE_INDEX_NOT_FOUND when called. */
  readonly source = (spec: { apiKey: string; index: string }): PineconeSourcePort => {
    const index = this.indexes.get(spec.index);
    if (index) return index;
    const missing = async (): Promise<never> => {
      throw new EtlError('SOURCE_INDEX_NOT_FOUND', `Pinecone index "${spec.index}" does not exist`, {
        retriable: false,
        field: 'source.index',
        hint: 'check the index name and the API key’s project',
      });
    };
    return { describeIndex: missing, listNamespaces: missing, listPage: missing, fetch: missing };
  };
}
