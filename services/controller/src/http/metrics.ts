import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { JOB_STATUSES, TERMINAL_STATUSES, offsetsAgeSeconds, type JobView } from '@p2m/core';

/**
 * The pipeline's Prometheus metrics (DESIGN.md, "Observability"). Two sources feed them:
 * - the runtimes in this process call `recordExtracted`, `recordLoaded`, `observeBatch`, ... as work
 *   happens (counters and the batch-latency histogram: what this process did);
 * - `syncFromJobs` copies every job's progress as the controller computes it from Kafka into the
 *   `p2m_job_*` gauges (what the job as a whole did, whichever processes did it).
 * Labels are bounded: per job, never per record or per namespace (an index can have thousands).
 */
export interface ControllerMetricsOptions {
  /** Also export Node's process metrics (heap, event-loop lag, ...). Default true. */
  defaultMetrics?: boolean;
  /** Metric name prefix. Default `p2m_`. */
  prefix?: string;
}

export class ControllerMetrics {
  readonly registry: Registry;

  readonly #extracted: Counter<'job'>;
  readonly #loaded: Counter<'job'>;
  readonly #failed: Counter<'job'>;
  readonly #bytes: Counter<'job' | 'stage'>;
  readonly #batchSeconds: Histogram<'job'>;
  readonly #retries: Counter<'job' | 'operation'>;
  readonly #rateLimited: Counter<'job' | 'system'>;
  readonly #lag: Gauge<'job'>;
  readonly #jobRecords: Gauge<'job' | 'stage'>;
  readonly #jobRate: Gauge<'job'>;
  readonly #jobEta: Gauge<'job'>;
  readonly #offsetsAge: Gauge<'job'>;
  readonly #jobStatus: Gauge<'job' | 'status'>;
  readonly #jobs: Gauge<'status'>;
  readonly #httpRequests: Counter<'method' | 'route' | 'status'>;
  readonly #httpSeconds: Histogram<'method' | 'route'>;
  /** Jobs whose gauges `syncFromJobs` set, so a job that disappears loses its series. */
  #synced = new Set<string>();

  constructor(options: ControllerMetricsOptions = {}) {
    const p = options.prefix ?? 'p2m_';
    const registry = (this.registry = new Registry());
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: p });
    const registers = [registry];

    this.#extracted = new Counter({
      name: `${p}records_extracted_total`,
      help: 'Records read from Pinecone and published to the records topic by this process',
      labelNames: ['job'],
      registers,
    });
    this.#loaded = new Counter({
      name: `${p}records_loaded_total`,
      help: 'Records upserted into Milvus (acknowledged) by this process',
      labelNames: ['job'],
      registers,
    });
    this.#failed = new Counter({
      name: `${p}records_failed_total`,
      help: 'Records sent to the dead-letter topic by this process',
      labelNames: ['job'],
      registers,
    });
    this.#bytes = new Counter({
      name: `${p}bytes_total`,
      help: 'Encoded record bytes handled by this process, by stage (extracted, loaded)',
      labelNames: ['job', 'stage'],
      registers,
    });
    this.#batchSeconds = new Histogram({
      name: `${p}batch_duration_seconds`,
      help: 'Time to write one batch to Milvus, until acknowledged',
      labelNames: ['job'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.#retries = new Counter({
      name: `${p}retries_total`,
      help: 'Retried operations after a transient error, by operation',
      labelNames: ['job', 'operation'],
      registers,
    });
    this.#rateLimited = new Counter({
      name: `${p}rate_limited_total`,
      help: 'HTTP 429 (rate limited) answers received, by system',
      labelNames: ['job', 'system'],
      registers,
    });
    this.#lag = new Gauge({
      name: `${p}consumer_lag`,
      help: 'Records in the records topic not yet committed by the loader group',
      labelNames: ['job'],
      registers,
    });
    this.#offsetsAge = new Gauge({
      name: `${p}job_offsets_age_seconds`,
      help: "Seconds since Kafka last gave an active job's offsets: the loaded counts and the lag are that old (absent before the first read)",
      labelNames: ['job'],
      registers,
    });
    this.#jobRecords = new Gauge({
      name: `${p}job_records`,
      help: 'Job progress in records, by stage (source, extracted, loaded, failed)',
      labelNames: ['job', 'stage'],
      registers,
    });
    this.#jobRate = new Gauge({
      name: `${p}job_records_per_second`,
      help: 'Loaded records per second over the job’s sliding window',
      labelNames: ['job'],
      registers,
    });
    this.#jobEta = new Gauge({ name: `${p}job_eta_seconds`, help: 'Seconds to go at the current rate (absent while unknown)', labelNames: ['job'], registers });
    this.#jobStatus = new Gauge({ name: `${p}job_status`, help: '1 for the job’s current status, 0 for the others', labelNames: ['job', 'status'], registers });
    this.#jobs = new Gauge({ name: `${p}jobs`, help: 'Jobs by status', labelNames: ['status'], registers });
    this.#httpRequests = new Counter({
      name: `${p}http_requests_total`,
      help: 'Controller HTTP requests by route and status',
      labelNames: ['method', 'route', 'status'],
      registers,
    });
    this.#httpSeconds = new Histogram({
      name: `${p}http_request_duration_seconds`,
      help: 'Controller HTTP request duration by route',
      labelNames: ['method', 'route'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
  }

  recordExtracted(jobId: string, records: number, bytes = 0): void {
    this.#extracted.inc({ job: jobId }, records);
    if (bytes > 0) this.#bytes.inc({ job: jobId, stage: 'extracted' }, bytes);
  }

  recordLoaded(jobId: string, records: number, bytes = 0): void {
    this.#loaded.inc({ job: jobId }, records);
    if (bytes > 0) this.#bytes.inc({ job: jobId, stage: 'loaded' }, bytes);
  }

  recordFailed(jobId: string, records: number): void {
    this.#failed.inc({ job: jobId }, records);
  }

  recordBytes(jobId: string, stage: 'extracted' | 'loaded', bytes: number): void {
    this.#bytes.inc({ job: jobId, stage }, bytes);
  }

  observeBatch(jobId: string, seconds: number): void {
    this.#batchSeconds.observe({ job: jobId }, seconds);
  }

  recordRetry(jobId: string, operation: string): void {
    this.#retries.inc({ job: jobId, operation });
  }

  recordRateLimited(jobId: string, system: 'pinecone' | 'milvus' = 'pinecone'): void {
    this.#rateLimited.inc({ job: jobId, system });
  }

  setLag(jobId: string, records: number): void {
    this.#lag.set({ job: jobId }, records);
  }

  observeHttp(method: string, route: string, status: number, seconds: number): void {
    this.#httpRequests.inc({ method, route, status: String(status) });
    this.#httpSeconds.observe({ method, route }, seconds);
  }

  /** Set the `p2m_job_*` gauges (and the lag) from the jobs' progress; drop series of jobs gone. */
  syncFromJobs(jobs: readonly JobView[]): void {
    const seen = new Set<string>();
    const byStatus = new Map<string, number>(JOB_STATUSES.map((s) => [s, 0]));
    for (const job of jobs) {
      const labels = { job: job.id };
      seen.add(job.id);
      byStatus.set(job.status, (byStatus.get(job.status) ?? 0) + 1);
      const total = job.progress.total;
      this.#jobRecords.set({ ...labels, stage: 'source' }, total.sourceCount);
      this.#jobRecords.set({ ...labels, stage: 'extracted' }, total.extracted);
      this.#jobRecords.set({ ...labels, stage: 'loaded' }, total.loaded);
      this.#jobRecords.set({ ...labels, stage: 'failed' }, total.failed);
      this.#jobRate.set(labels, job.progress.recordsPerSecond);
      if (job.progress.etaSeconds === null) this.#jobEta.remove(labels);
      else this.#jobEta.set(labels, job.progress.etaSeconds);
      this.#lag.set(labels, job.progress.consumerLag);
      const offsetsAge = TERMINAL_STATUSES.has(job.status) ? null : offsetsAgeSeconds(job.progress);
      if (offsetsAge === null) this.#offsetsAge.remove(labels);
      else this.#offsetsAge.set(labels, offsetsAge);
      for (const status of JOB_STATUSES) this.#jobStatus.set({ ...labels, status }, status === job.status ? 1 : 0);
    }
    for (const [status, n] of byStatus) this.#jobs.set({ status }, n);
    for (const gone of this.#synced) if (!seen.has(gone)) this.#forget(gone);
    this.#synced = seen;
  }

  #forget(jobId: string): void {
    // prom-client removes a series by its exact label set, so each stage and status is named.
    for (const stage of ['source', 'extracted', 'loaded', 'failed']) this.#jobRecords.remove({ job: jobId, stage });
    for (const status of JOB_STATUSES) this.#jobStatus.remove({ job: jobId, status });
    this.#jobRate.remove({ job: jobId });
    this.#jobEta.remove({ job: jobId });
    this.#lag.remove({ job: jobId });
    this.#offsetsAge.remove({ job: jobId });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The Prometheus text exposition. */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }
}
