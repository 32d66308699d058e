import { dlqTopic, recordsTopic, type CollectionPlan, type JobRecord, type LogAdmin, type SinkAdmin } from '@p2m/core';
import type { JobLedger } from './ledger.ts';

/** A connection to the job's target for set-up: its admin port, closed after use. */
export type SinkAdminConnection = SinkAdmin & { close(): Promise<void> };

export interface SetUpDeps {
  admin: () => LogAdmin;
  /** Prepares the records topic's schema (registers it) before extraction starts. */
  prepareTopic?: ((topic: string) => Promise<void>) | undefined;
  sinkFor: (record: JobRecord) => SinkAdminConnection;
  ledger: JobLedger;
}

/** Set-ups of a collection under way in this process, by name: the next one waits for the last. */
const settingUp = new Map<string, Promise<void>>();

/**
 * The collection of `plan` exists on the target afterwards (created when missing). Set-ups of one
 * collection in this process run one after the other: the API's and the job driver's set-ups of a
 * new job used to race, and Milvus Lite does not take concurrent creations of one collection and
 * its partitions well (fresh-clone CI: "[Errno 17] File exists", and once a partition a loader then
 * did not find).
 */
export async function ensureCollection(sink: SinkAdminConnection, plan: CollectionPlan): Promise<void> {
  const previous = settingUp.get(plan.collection) ?? Promise.resolve();
  const run = previous
    .catch(() => undefined)
    .then(async () => {
      try {
        if (!(await sink.collectionExists(plan.collection))) await sink.createCollection(plan);
      } finally {
        await sink.close();
      }
    });
  settingUp.set(plan.collection, run);
  try {
    await run;
  } finally {
    if (settingUp.get(plan.collection) === run) settingUp.delete(plan.collection);
  }
}

/** PENDING → IN_PROGRESS: the topics and the collection exist. Idempotent, so an owner can redo it. */
export async function setUpJob(deps: SetUpDeps, record: JobRecord): Promise<void> {
  const admin = deps.admin();
  await admin.ensureTopic({ topic: recordsTopic(record.id), partitions: record.spec.options.topicPartitions, retentionMs: -1 });
  await admin.ensureTopic({ topic: dlqTopic(record.id), partitions: 1, retentionMs: -1 });
  await deps.prepareTopic?.(recordsTopic(record.id));
  await ensureCollection(deps.sinkFor(record), record.plan);
  const current = deps.ledger.latest(record);
  if (current.status === 'PENDING') await deps.ledger.transition(current, 'IN_PROGRESS');
}
