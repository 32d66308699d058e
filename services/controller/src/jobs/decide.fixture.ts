import { EtlError, emptyProgress, parseJobSpec, planCollection, type Checkpoint, type JobProgress, type JobRecord, type VerificationReport, type WorkerStatus } from '@p2m/core';
import { fullCapabilities } from '@p2m/testing';
import type { Observations } from './decide.ts';

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
  return { id: 'job-1', status: 'IN_PROGRESS', createdAt: at, updatedAt: at, generation: 2, mode: 'extract', topicJobId: 'job-1', spec, sealedSecrets: 'sealed', plan, ...patch };
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
  return new Map(['', 'a'].map((ns) => [ns, { jobId: 'job-1', namespace: ns, paginationToken: null, recordsPublished: ns ? 4 : 6, pages: 1, done: doneNamespaces.includes(ns) }]));
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
    verification: null,
    ...patch,
  };
}

export function report(passed: boolean, problems: string[] = []): VerificationReport {
  const ns = (namespace: string, count: number) => ({ namespace, sourceCount: count, extracted: count, targetCount: count - 1, dlq: 1, missing: 0, missingSample: [], ok: passed });
  return { passed, checkedAt: new Date(NOW).toISOString(), namespaces: [ns('', 6), ns('a', 4)], sample: { size: 10, compared: 10, mismatches: [] }, problems, dlqSample: [] };
}

export const milvusDown = new EtlError('TARGET_UNAVAILABLE', 'flushing "docs" failed: connection refused');
export const indexClash = new EtlError('TARGET_UNSUPPORTED', 'field "vector" already has an HNSW/L2 index', { retriable: false });
