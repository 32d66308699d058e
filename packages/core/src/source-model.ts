/**
 * The Pinecone index as p2m models it (what the source port answers). Kept apart from the ports so
 * the plan, which is derived from it, and the ports, which carry plans, do not import each other.
 */
export type PineconeMetric = 'cosine' | 'euclidean' | 'dotproduct';

export interface IndexDescription {
  name: string;
  /** null for a sparse-only index. */
  dimension: number | null;
  metric: PineconeMetric;
  vectorType: 'dense' | 'sparse';
  deployment: 'serverless' | 'pod' | 'unknown';
  host: string;
  ready: boolean;
}

export interface NamespaceInfo {
  /** '' for the default namespace. */
  name: string;
  recordCount: number;
}

export interface ListPage {
  ids: string[];
  /** Token for the next page; null on the last page. */
  next: string | null;
}

/** A vector as the source returned it, before validation. */
export interface SourceVector {
  id: string;
  values?: ArrayLike<number> | undefined;
  sparseValues?: { indices: ArrayLike<number>; values: ArrayLike<number> } | undefined;
  metadata?: Record<string, unknown> | undefined;
}
