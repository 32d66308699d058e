import { expect } from 'vitest';
import {
  EtlError,
  emptyProgress,
  parseJobSpec,
  planCollection,
  type Checkpoint,
  type JobProgress,
  type JobRecord,
  type VerificationReport,
  type WorkerStatus,
} from '@p2m/core';
import { fullCapabilities } from '@p2m/testing';
import type { Action, Observations } from './decide.ts';

/** Jobs and observations for the decision table (test-only). */
export const NOW = Date.parse('2026-05-01T12:00:00.000Z');
export const LIMITS = { kafkaDeadlineMs: 120_000, sinkDeadlineMs: 120_000, cancelGraceMs: 15_000 };

const spec = parseJobSpec({ source: { apiKey: 'k', index: 'docs' }, target: { address: 'milvus.example:19530', collection: 'docs' } });
const plan = planCollection({
  spec,
  index: { name: 'docs', dimension: 4, metric: 'cosine', vectorType: 'dense', deployment: 'serverless', host: 'h', ready: true },
  namespaces: [
    { name: '', recordCount: 6 },
    { name: 'a', recordCount: 4 },
  ],
  capabilities: fullCapabilities(),
});

export function job(patch: Partial<JobRecord> = {}): JobRecord {
  const at = new Date(NOW - 60_000).toISOString();
  return {
    id: 'job-1',
    status: 'IN_PROGRESS',
    createdAt: at,
    updatedAt: at,
    generation: 2,
    mode: 'extract',
    topicJobId: 'job-1',
    spec,
    sealedSecrets: 'sealed',
    plan,
    ...patch,
  };
}

export function progress(lag: number, loaded = 10 - lag): JobProgress {
  return {
    ...emptyProgress(),
    namespaces: [
      { namespace: '', sourceCount: 6, extracted: 6, loaded: Math.min(loaded, 6), failed: 0, extractionDone: true },
      { namespace: 'a', sourceCount: 4, extracted: 4, loaded: Math.max(0, loaded - 6), failed: 0, extractionDone: true },
    ],
    total: { sourceCount: 10, extracted: 10, loaded, failed: 0 },
    consumerLag: lag,
  };
}

export function checkpoints(doneNamespaces: string[]): Map<string, Checkpoint> {
  return new Map(
    ['', 'a'].map((ns) => [
      ns,
      { jobId: 'job-1', namespace: ns, paginationToken: null, recordsPublished: ns ? 4 : 6, pages: 1, done: doneNamespaces.includes(ns) },
    ]),
  );
}

export function worker(patch: Partial<WorkerStatus>): WorkerStatus {
  return { jobId: 'job-1', role: 'loader', workerId: 'loader-1', generation: 2, state: 'running', at: new Date(NOW).toISOString(), ...patch };
}

/** A job under way, loaded to the end, owned, everything answering. */
export function seen(patch: Partial<Observations> = {}): Observations {
  return {
    now: NOW,
    owned: true,
    busy: false,
    failingForOutage: false,
    kafkaDown: null,
    kafkaBrokers: 'kafka-1:9092',
    limits: LIMITS,
    workers: [],
    checkpoints: checkpoints(['', 'a']),
    progress: progress(0),
    offsetsKnown: true,
    loaderMembers: null,
    logMissingSince: null,
    verification: null,
    ...patch,
  };
}

export function report(passed: boolean, problems: string[] = []): VerificationReport {
  const ns = (namespace: string, count: number) => ({
    namespace,
    sourceCount: count,
    extracted: count,
    targetCount: count - 1,
    dlq: 1,
    missing: 0,
    missingSample: [],
    ok: passed,
  });
  return {
    passed,
    checkedAt: new Date(NOW).toISOString(),
    namespaces: [ns('', 6), ns('a', 4)],
    sample: { size: 10, compared: 10, mismatches: [] },
    problems,
    dlqSample: [],
  };
}

export const milvusDown = new EtlError('TARGET_UNAVAILABLE', 'flushing "docs" failed: connection refused');
export const indexClash = new EtlError('TARGET_UNSUPPORTED', 'field "vector" already has an HNSW/L2 index', { retriable: false });
export const collectionTaken = new EtlError(
  'TARGET_COLLECTION_EXISTS',
  'collection "docs" already exists and does not match the plan: it has no field "vector"',
  {
    retriable: false,
    hint: 'pick another collection name, or drop the existing collection first',
  },
);

/**
 * The controller's lifecycle, one row per case: a job, what was observed, what must be done.
 * `edge` names the lifecycle edge of core/job.ts a row takes (the coverage test below holds the
 * rows against the transition table).
 */
interface Row {
  name: string;
  edge?: string;
  job: Partial<JobRecord>;
  seen: Partial<Observations>;
  want: Partial<Action>[];
}

const kafkaDown = (forMs: number) => ({ since: NOW - forMs, attempts: 7, lastError: new Error('connect ECONNREFUSED 127.0.0.1:9092') });
const trouble = (error: unknown, forMs: number, attempts = 3) => ({ error, troubleSince: NOW - forMs, attempts });

export const DECISIONS: Row[] = [
  // PENDING
  { name: 'a new job is set up by its owner', edge: 'PENDING→IN_PROGRESS', job: { status: 'PENDING' }, seen: {}, want: [{ kind: 'setUp' }] },
  { name: 'a job another controller owns is only measured', job: { status: 'PENDING' }, seen: { owned: false }, want: [] },
  {
    name: 'set-up in trouble with Milvus, within the sink deadline: again next tick',
    job: { status: 'PENDING' },
    seen: { setUp: trouble(milvusDown, 60_000) },
    want: [{ kind: 'retryLater' }],
  },
  {
    name: 'set-up in trouble with Milvus past the sink deadline: FAILED naming Milvus',
    edge: 'PENDING→FAILED',
    job: { status: 'PENDING' },
    seen: { setUp: trouble(milvusDown, 121_000) },
    want: [
      {
        kind: 'finish',
        status: 'FAILED',
        error: {
          code: 'TARGET_UNAVAILABLE',
          message: expect.stringMatching(/^Milvus \(milvus\.example:19530\) stayed unreachable for 121 s/) as never,
          at: 'set-up',
        },
      },
    ],
  },
  {
    name: 'a permanent set-up error is tried a few times, a tick apart',
    job: { status: 'PENDING' },
    seen: { setUp: trouble(collectionTaken, 1_000, 1) },
    want: [{ kind: 'retryLater' }],
  },
  {
    name: 'a permanent set-up error fails the job in seconds, not at the deadline, with its reason and fix',
    job: { status: 'PENDING' },
    seen: { setUp: trouble(collectionTaken, 2_000, 3) },
    want: [
      {
        kind: 'finish',
        status: 'FAILED',
        error: {
          code: 'TARGET_COLLECTION_EXISTS',
          message: expect.stringMatching(/^set-up failed: collection "docs" already exists.*; pick another collection name/) as never,
          at: 'set-up',
        },
      },
    ],
  },
  // IN_PROGRESS
  { name: 'every namespace extracted and the lag drained: verify', edge: 'IN_PROGRESS→VERIFYING', job: {}, seen: {}, want: [{ kind: 'startVerifying' }] },
  { name: 'records still to load', job: {}, seen: { progress: progress(3) }, want: [] },
  { name: 'a namespace still being extracted', job: {}, seen: { checkpoints: checkpoints(['']) }, want: [] },
  { name: 'offsets that could not be read are no drained lag', job: {}, seen: { offsetsKnown: false }, want: [] },
  { name: 'not measured yet', job: {}, seen: { progress: null }, want: [] },
  { name: 'a replay reads no source: a drained lag is enough', job: { mode: 'replay' }, seen: { checkpoints: undefined }, want: [{ kind: 'startVerifying' }] },
  {
    name: 'the records topic missing for a moment (a topic just created may be): wait',
    job: {},
    seen: { logMissingSince: NOW - 9_000, progress: progress(3), offsetsKnown: false },
    want: [],
  },
  {
    name: 'the records topic deleted outside p2m: FAILED in seconds, naming the topic and the way out',
    edge: 'IN_PROGRESS→FAILED',
    job: {},
    seen: { logMissingSince: NOW - 10_000, progress: progress(3), offsetsKnown: false },
    want: [
      {
        kind: 'finish',
        status: 'FAILED',
        error: {
          code: 'LOG_UNAVAILABLE',
          message: expect.stringMatching(/^the job's records topic p2m\.job\.job-1\.records has been missing from Kafka for 10 s .*; start a new job/) as never,
          at: 'kafka',
        },
      },
    ],
  },
  {
    name: 'resumed after its topic was found missing: the grace counts from the resume, not from then',
    job: { updatedAt: new Date(NOW - 2_000).toISOString() },
    seen: { logMissingSince: NOW - 60_000, progress: null, offsetsKnown: false },
    want: [],
  },
  {
    name: "a replay whose source job's log was deleted: FAILED naming that job's topic",
    job: { mode: 'replay', topicJobId: 'job-0' },
    seen: { logMissingSince: NOW - 30_000, progress: null, offsetsKnown: false, checkpoints: undefined },
    want: [
      {
        kind: 'finish',
        status: 'FAILED',
        error: {
          code: 'LOG_UNAVAILABLE',
          message: expect.stringMatching(/topic p2m\.job\.job-0\.records of job job-0, .*nothing to replay/) as never,
          at: 'kafka',
        },
      },
    ],
  },
  {
    name: 'a worker that failed is the reason given, before a missing topic',
    job: {},
    seen: { logMissingSince: NOW - 60_000, workers: [worker({ state: 'failed', error: { code: 'LOG_UNAVAILABLE', message: 'consume failed', at: 'kafka' } })] },
    want: [{ kind: 'finish', status: 'FAILED', error: { code: 'LOG_UNAVAILABLE', message: 'loader loader-1: consume failed', at: 'kafka' } }],
  },
  {
    name: 'a CANCELLING job whose topic is gone is still CANCELLED once its workers stopped',
    job: { status: 'CANCELLING', cancelRequestedAt: new Date(NOW - 1_000).toISOString() },
    seen: { logMissingSince: NOW - 60_000, loaderMembers: 0, progress: null, offsetsKnown: false },
    want: [{ kind: 'finish', status: 'CANCELLED' }],
  },
  {
    name: 'a worker of this generation failed: the job fails naming it and where',
    edge: 'IN_PROGRESS→FAILED',
    job: {},
    seen: {
      progress: progress(4),
      workers: [worker({ state: 'failed', error: { code: 'TARGET_UNAVAILABLE', message: 'Milvus (m:1) stayed unreachable for 120 s', at: 'partition 3' } })],
    },
    want: [
      {
        kind: 'finish',
        status: 'FAILED',
        error: { code: 'TARGET_UNAVAILABLE', message: 'loader loader-1: Milvus (m:1) stayed unreachable for 120 s', at: 'partition 3' },
      },
    ],
  },
  {
    name: 'a failure of an earlier generation does not fail the resumed job',
    job: {},
    seen: { progress: progress(4), workers: [worker({ generation: 1, state: 'failed' })] },
    want: [],
  },
  // VERIFYING
  { name: 'verification starts', job: { status: 'VERIFYING' }, seen: {}, want: [{ kind: 'verify' }] },
  {
    name: 'a passing report: SUCCESSFUL, with the verified counts',
    edge: 'VERIFYING→SUCCESSFUL',
    job: { status: 'VERIFYING' },
    seen: { verification: { report: report(true) } },
    want: [
      { kind: 'finish', status: 'SUCCESSFUL', finalProgress: expect.objectContaining({ total: expect.objectContaining({ loaded: 8, failed: 2 }) }) as never },
    ],
  },
  {
    name: 'a failing report: FAILED with its first problems',
    edge: 'VERIFYING→FAILED',
    job: { status: 'VERIFYING' },
    seen: { verification: { report: report(false, ['p1', 'p2', 'p3', 'p4']) } },
    want: [{ kind: 'finish', status: 'FAILED', error: { code: 'VERIFICATION_FAILED', message: 'p1; p2; p3', at: 'verification' } }],
  },
  {
    name: 'Milvus down during verification, within the sink deadline: again next tick',
    job: { status: 'VERIFYING' },
    seen: { verification: trouble(milvusDown, 60_000) },
    want: [{ kind: 'retryLater' }],
  },
  {
    name: 'Milvus down during verification past the sink deadline: FAILED naming Milvus and the deadline',
    job: { status: 'VERIFYING' },
    seen: { verification: trouble(milvusDown, 121_000) },
    want: [
      {
        kind: 'finish',
        status: 'FAILED',
        error: {
          code: 'TARGET_UNAVAILABLE',
          message: expect.stringMatching(
            /^Milvus \(milvus\.example:19530\) stayed unreachable for 121 s \(3 attempts\): flushing "docs" failed: connection refused; past the deadline P2M_SINK_DEADLINE_MS=120000 ms/,
          ) as never,
          at: 'verification',
        },
      },
    ],
  },
  {
    name: 'a permanent verification error is tried again a few times (Lite answers passing conditions so)',
    job: { status: 'VERIFYING' },
    seen: { verification: trouble(indexClash, 1_000, 2) },
    want: [{ kind: 'retryLater' }],
  },
  {
    name: 'a permanent verification error fails the job within seconds, not at the sink deadline, with its reason',
    job: { status: 'VERIFYING' },
    seen: { verification: trouble(indexClash, 3_000, 3) },
    want: [
      {
        kind: 'finish',
        status: 'FAILED',
        error: { code: 'TARGET_UNSUPPORTED', message: expect.stringMatching(/^verification failed: field "vector" already has/) as never, at: 'verification' },
      },
    ],
  },
  // CANCELLING
  {
    name: 'loaders left and the extractor stopped: CANCELLED',
    edge: 'CANCELLING→CANCELLED',
    job: { status: 'CANCELLING', cancelRequestedAt: new Date(NOW - 1_000).toISOString() },
    seen: { loaderMembers: 0 },
    want: [{ kind: 'finish', status: 'CANCELLED' }],
  },
  {
    name: 'loaders still in the group, within the grace',
    job: { status: 'CANCELLING', cancelRequestedAt: new Date(NOW - 1_000).toISOString() },
    seen: { loaderMembers: 2 },
    want: [],
  },
  {
    name: 'the extractor of this generation still running, within the grace',
    job: { status: 'CANCELLING', cancelRequestedAt: new Date(NOW - 1_000).toISOString() },
    seen: { loaderMembers: 0, workers: [worker({ role: 'extractor', workerId: 'x-1' })] },
    want: [],
  },
  {
    name: 'the loader group not answered, within the grace',
    job: { status: 'CANCELLING', cancelRequestedAt: new Date(NOW - 1_000).toISOString() },
    seen: { loaderMembers: null },
    want: [],
  },
  {
    name: 'workers silent past the cancel grace: CANCELLED anyway, saying so',
    job: { status: 'CANCELLING', cancelRequestedAt: new Date(NOW - 16_000).toISOString() },
    seen: { loaderMembers: 1 },
    want: [{ kind: 'finish', status: 'CANCELLED', note: expect.stringMatching(/did not confirm the stop/) as never }],
  },
  // Kafka outage
  {
    name: 'Kafka down past the deadline: the owned active job FAILs naming Kafka and the deadline',
    edge: 'IN_PROGRESS→FAILED',
    job: {},
    seen: { kafkaDown: kafkaDown(121_000), progress: progress(3) },
    want: [
      {
        kind: 'failForOutage',
        error: {
          code: 'LOG_UNAVAILABLE',
          message: expect.stringMatching(
            /^Kafka \(kafka-1:9092\) stayed unreachable for 121 s \(7 attempts\): connect ECONNREFUSED.*P2M_KAFKA_DEADLINE_MS=120000 ms/,
          ) as never,
          at: 'kafka',
        },
      },
    ],
  },
  {
    name: 'Kafka down past the deadline while cancelling',
    edge: 'CANCELLING→FAILED',
    job: { status: 'CANCELLING' },
    seen: { kafkaDown: kafkaDown(130_000) },
    want: [{ kind: 'failForOutage' }],
  },
  {
    name: 'Kafka down past the deadline while the job is being driven',
    job: { status: 'VERIFYING' },
    seen: { kafkaDown: kafkaDown(130_000), busy: true },
    want: [{ kind: 'failForOutage' }],
  },
  { name: 'a Kafka restart shorter than the deadline fails nothing', job: {}, seen: { kafkaDown: kafkaDown(119_000) }, want: [{ kind: 'startVerifying' }] },
  {
    name: 'Kafka down past the deadline: jobs of other controllers are theirs to fail',
    job: {},
    seen: { kafkaDown: kafkaDown(200_000), owned: false },
    want: [],
  },
  { name: 'a job already failed by the outage waits for its record', job: {}, seen: { kafkaDown: kafkaDown(200_000), failingForOutage: true }, want: [] },
  // Nothing to do
  { name: 'a job being driven is left to it', job: { status: 'PENDING' }, seen: { busy: true }, want: [] },
  ...(['SUCCESSFUL', 'FAILED', 'CANCELLED'] as const).map((status) => ({
    name: `a ${status} job rests`,
    job: { status },
    seen: { kafkaDown: kafkaDown(500_000) },
    want: [],
  })),
];
