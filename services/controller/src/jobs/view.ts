import type { JobError, JobProgress, JobRecord, JobView } from '@p2m/core';

/** A job as the API shows it: no secret, the progress chosen by the tracker, an outage failure on top. */
export function jobView(stored: JobRecord, progress: JobProgress, failedByOutage?: JobError): JobView {
  const record: JobRecord = failedByOutage ? { ...stored, status: 'FAILED', error: failedByOutage } : stored;
  const { spec } = record;
  return {
    id: record.id,
    status: record.status,
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
    mode: record.mode,
    topicJobId: record.topicJobId,
    generation: record.generation,
    source: { index: spec.source.index, controllerHostUrl: spec.source.controllerHostUrl, namespaces: spec.source.namespaces },
    target: {
      address: spec.target.address,
      collection: record.plan.collection,
      description: spec.target.description,
      partitionKey: spec.target.partitionKey,
      maxIdLength: spec.target.maxIdLength,
      primaryKey: spec.target.primaryKey,
      fields: spec.target.fields,
    },
    options: spec.options,
    plan: record.plan,
    progress,
    error: record.error,
    report: record.report,
  };
}
