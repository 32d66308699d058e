import type { JobStatus, JobView, NamespaceProgress } from '@p2m/core';

/** A JobView for CLI tests (the CLI cannot import the controller's in-memory service). */
export function jobView(
  overrides: { id?: string; status?: JobStatus; namespaces?: Partial<NamespaceProgress>[] } & Partial<Omit<JobView, 'progress'>> = {},
): JobView {
  const namespaces: NamespaceProgress[] = (overrides.namespaces ?? [{ namespace: '' }, { namespace: 'docs' }]).map((n) => ({
    namespace: '',
    sourceCount: 100,
    extracted: 0,
    loaded: 0,
    failed: 0,
    extractionDone: false,
    ...n,
  }));
  const total = namespaces.reduce(
    (t, n) => ({ sourceCount: t.sourceCount + n.sourceCount, extracted: t.extracted + n.extracted, loaded: t.loaded + n.loaded, failed: t.failed + n.failed }),
    { sourceCount: 0, extracted: 0, loaded: 0, failed: 0 },
  );
  const { namespaces: _ignored, ...rest } = overrides;
  return {
    id: 'job-1',
    status: 'IN_PROGRESS',
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:01:30.000Z',
    mode: 'extract',
    topicJobId: overrides.id ?? 'job-1',
    generation: 1,
    source: { index: 'docs-index' },
    target: {
      address: '127.0.0.1:19530',
      collection: 'docs',
      partitionKey: true,
      maxIdLength: 512,
      primaryKey: 'id',
      fields: { id: 'id', primaryKey: 'pk', vector: 'vector', sparseVector: 'sparse_vector', namespace: 'namespace' },
    },
    options: {
      topicPartitions: 6,
      batchBytes: 16 * 1024 * 1024,
      batchMaxWaitMs: 500,
      namespaceConcurrency: 4,
      rateLimits: { listPerSecond: 200, fetchPerSecond: 100 },
      flushBeforeCommit: 'auto',
      indexBuild: 'auto',
      fetchBatchSize: 100,
      verifySampleSize: 1000,
    },
    progress: { namespaces, total, recordsPerSecond: 250, etaSeconds: 42, consumerLag: 17, updatedAt: '2026-01-01T00:01:30.000Z' },
    ...rest,
  };
}

/** The same job, finished: everything loaded and a passing report. */
export function finished(view: JobView, passed = true): JobView {
  const namespaces = view.progress.namespaces.map((n) => ({ ...n, extracted: n.sourceCount, loaded: n.sourceCount - n.failed, extractionDone: true }));
  const t = view.progress.total;
  return {
    ...view,
    status: 'SUCCESSFUL',
    progress: {
      ...view.progress,
      namespaces,
      total: { ...t, extracted: t.sourceCount, loaded: t.sourceCount - t.failed },
      etaSeconds: 0,
      recordsPerSecond: 0,
      consumerLag: 0,
    },
    report: {
      passed,
      checkedAt: '2026-01-01T00:02:00.000Z',
      namespaces: namespaces.map((n) => ({
        namespace: n.namespace,
        sourceCount: n.sourceCount,
        extracted: n.extracted,
        targetCount: n.loaded,
        dlq: n.failed,
        missing: passed ? 0 : 1,
        missingSample: passed ? [] : ['gone-1'],
        ok: passed,
      })),
      sample: {
        size: 50,
        compared: 50,
        mismatches: passed ? [] : [{ namespace: 'docs', id: 'r9', field: 'metadata.genre', reason: 'expected "drama", found "comedy"' }],
      },
      problems: passed ? [] : ['namespace docs: 1 source id neither in the target nor in the DLQ'],
      dlqSample: [],
    },
  };
}
