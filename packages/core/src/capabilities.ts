/**
 * What a Milvus target can do, asked of the target itself when a job is planned (the Milvus sink's
 * admin probes it), never guessed from a name. Each capability says how it is known, so `/plan`
 * can show the evidence next to the decision the job takes from it.
 */

/**
 * - `probed`: the target was asked (a scratch collection was created with the feature, a call was made);
 * - `documented`: taken from the vendor's documentation for the version the target reports;
 * - `configured`: the job spec said so (an explicit option overrides a probe);
 * - `unknown`: neither; the plan takes the safe choice and says which.
 */
export type Evidence = 'probed' | 'documented' | 'configured' | 'unknown';

export interface Capability<T> {
  value: T;
  how: Evidence;
  /** One sentence a person reads in `/plan`: what was seen or which documentation says so. */
  detail: string;
}

export interface TargetCapabilities {
  /** What the server reports as its version, verbatim (informational: decisions use the probes). */
  serverVersion: string;
  /** The Milvus release, when the reported version names one (`v2.3.5-lite` → `2.3.5`); null otherwise (Milvus Lite reports its own version). */
  milvusVersion: string | null;
  sparseVectors: Capability<boolean>;
  /** A SPARSE_FLOAT_VECTOR field may be nullable (rows without a value). */
  nullableVectors: Capability<boolean>;
  /** A sparse row with no entries is accepted (Milvus 2.4/2.5). */
  emptySparseRows: Capability<boolean>;
  partitionKey: Capability<boolean>;
  /** Upsert routes rows by the partition key (Milvus 2.3.x's upsert does not: a server bug). */
  upsertHonoursPartitionKey: Capability<boolean>;
  /**
   * An upsert replaces the row's dynamic field ($meta) as a whole. Milvus Lite 3.2.2 merges it into
   * the old row's instead (keys the new record lacks stay): measured by the probe.
   */
  upsertReplacesDynamicField: Capability<boolean>;
  maxPartitions: Capability<number>;
  dynamicField: Capability<boolean>;
  /** An acknowledged write survives a crash of the server without a flush (a write-ahead log); null = unknown. */
  persistsAcknowledgedWrites: Capability<boolean | null>;
  /** `query` is refused until the collection is loaded (every real server; Milvus Lite answers anyway). */
  queryNeedsLoad: Capability<boolean>;
  /**
   * The server builds indexes on index nodes of their own hosts, apart from the nodes that take
   * writes, so a build during the load does not take the load's CPU (a distributed Milvus); false
   * where every node shares one host (standalone); null when the server does not say (Zilliz Cloud
   * refuses to describe itself). Absent in plans made before it existed.
   */
  indexNodesApart?: Capability<boolean | null>;
}

/** One line of the plan's capability table: what the target can do, and what this job does about it. */
export interface CapabilityDecision {
  capability: keyof Omit<TargetCapabilities, 'serverVersion' | 'milvusVersion'>;
  value: string;
  how: Evidence;
  detail: string;
  /** What the job does because of it. */
  decision: string;
}

/** `v2.3.5-lite`, `2.4.13`, `v2.6.0-rc.1` → `[2, 3, 5]`; anything else (`milvus_lite-3.2.2`) → null. */
export function milvusRelease(version: string): [number, number, number] | null {
  const m = /^v?(\d+)\.(\d+)\.(\d+)(?:[-+].*)?$/.exec(version.trim());
  if (!m) return null;
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

export function releaseAtLeast(release: [number, number, number] | null, major: number, minor: number): boolean {
  if (!release) return false;
  return release[0] > major || (release[0] === major && release[1] >= minor);
}
