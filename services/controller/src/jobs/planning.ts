import {
  EtlError,
  RetryPolicies,
  planCollection,
  retry,
  type CollectionPlan,
  type JobSpec,
  type MilvusTarget,
  type PineconeSourcePort,
  type TargetCapabilities,
} from '@p2m/core';

export interface SourceFactory {
  (source: { apiKey: string; index: string; controllerHostUrl?: string | undefined }): PineconeSourcePort;
}
export interface SinkFactory {
  (target: { address: string; token?: string | undefined }): MilvusTarget;
}

export interface PlanningDeps {
  sourceFactory: SourceFactory;
  sinkFactory: SinkFactory;
}

/**
 * The plan of a spec: the index description and its namespaces from the source, what the target
 * can do asked of the target (its capability probe), then `planCollection`, which refuses here
 * whatever the target cannot hold. One function, so the planning rules change in one place.
 */
export async function planFor(deps: PlanningDeps, spec: JobSpec): Promise<CollectionPlan> {
  const source = deps.sourceFactory(spec.source);
  // A 429 or 5xx from the source must not refuse the job: retry it (bounded, the caller waits).
  // Permanent answers (401, 404, a pod index) are not retriable and fail at once.
  const { index, namespaces } = await retry(
    async () => ({ index: await source.describeIndex(), namespaces: await source.listNamespaces() }),
    RetryPolicies.planning('Pinecone'),
  );
  const target = deps.sinkFactory(spec.target);
  let capabilities: TargetCapabilities;
  try {
    capabilities = await retry(() => target.capabilities(), RetryPolicies.planning(`Milvus (${spec.target.address})`));
  } finally {
    await target.close();
  }
  const plan = planCollection({ spec, index, namespaces, capabilities });
  if (spec.source.namespaces) {
    const known = new Set(namespaces.map((n) => n.name));
    const unknown = plan.source.namespaces.filter((n) => !known.has(n.name)).map((n) => n.name);
    if (unknown.length > 0) {
      throw new EtlError('SPEC_INVALID', `namespaces ${unknown.map((n) => JSON.stringify(n)).join(', ')} do not exist in index "${index.name}"`, {
        field: 'source.namespaces',
        hint: 'list only namespaces the index has, or leave source.namespaces out to migrate all',
      });
    }
  }
  return plan;
}

/** p2m never writes into a collection it did not create. */
export async function refuseExistingCollection(deps: PlanningDeps, target: JobSpec['target'], collection: string): Promise<void> {
  const sink = deps.sinkFactory(target);
  try {
    if (await sink.collectionExists(collection)) {
      throw new EtlError('TARGET_COLLECTION_EXISTS', `collection "${collection}" already exists in the target`, {
        field: 'target.collection',
        hint: 'choose another collection name (target.collection); p2m never writes into a collection it did not create',
      });
    }
  } finally {
    await sink.close();
  }
}
