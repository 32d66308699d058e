import { fullCapabilities } from '@p2m/testing';
import {
  ACTIVE_STATUSES,
  EtlError,
  emptyProgress,
  parseJobSpec,
  planCollection,
  type CollectionPlan,
  type DlqEntry,
  type ErrorsPage,
  type IndexDescription,
  type JobProgress,
  type JobService,
  type JobSpec,
  type JobView,
  type NamespaceInfo,
  type VerificationReport,
} from '@p2m/core';

/**
 * An in-memory JobService for unit tests of what carries the service to people (HTTP API, Jobs
 * page, CLI) and for previewing the page without a stack. It keeps the rules a caller can observe
 * (spec validation, unique collections, lifecycle refusals, paged errors) and none of the pipeline.
 */
export interface FakeIndex {
  description: IndexDescription;
  namespaces: NamespaceInfo[];
}

interface StoredJob {
  view: JobView;
  /** Kept like the real service keeps it: for the job's use, never for a response. */
  spec: JobSpec;
  dlq: DlqEntry[];
}

export class InMemoryJobService implements JobService {
  readonly #jobs = new Map<string, StoredJob>();
  readonly #indexes: Map<string, FakeIndex>;
  /** Collections that exist on the target besides the jobs' own. */
  readonly existingCollections = new Set<string>();
  #next = 1;
  #failure: unknown;
  #clock: () => Date;

  constructor(options: { indexes?: FakeIndex[]; clock?: () => Date } = {}) {
    this.#indexes = new Map((options.indexes ?? [defaultIndex('docs-index')]).map((i) => [i.description.name, i]));
    this.#clock = options.clock ?? (() => new Date());
  }

  /** The next call (any method) throws this, as a failing backend would. */
  failNextWith(err: unknown): void {
    this.#failure = err;
  }

  /** The stored spec of a job, secrets included (tests assert they never leave the service). */
  specOf(id: string): JobSpec {
    return this.#stored(id).spec;
  }

  async create(input: unknown): Promise<JobView> {
    this.#throwInjected();
    const spec = parseJobSpec(input);
    const plan = this.#plan(spec);
    this.#ensureCollectionFree(spec.target.collection);
    const id = `job-${String(this.#next++).padStart(4, '0')}`;
    const now = this.#now();
    const progress: JobProgress = {
      ...emptyProgress(),
      namespaces: plan.source.namespaces.map((n) => ({ namespace: n.name, sourceCount: n.recordCount, extracted: 0, loaded: 0, failed: 0, extractionDone: false })),
      total: { sourceCount: plan.source.totalRecords, extracted: 0, loaded: 0, failed: 0 },
      updatedAt: now,
    };
    const view: JobView = {
      id,
      status: 'PENDING',
      createdAt: now,
      updatedAt: now,
      mode: 'extract',
      topicJobId: id,
      generation: 1,
      source: { index: spec.source.index, controllerHostUrl: spec.source.controllerHostUrl, namespaces: spec.source.namespaces },
      target: {
        address: spec.target.address,
        collection: spec.target.collection,
        description: spec.target.description,
        partitionKey: spec.target.partitionKey,
        maxIdLength: spec.target.maxIdLength,
        primaryKey: spec.target.primaryKey,
        fields: spec.target.fields,
      },
      options: spec.options,
      plan,
      progress,
    };
    this.#jobs.set(id, { view, spec, dlq: [] });
    return structuredClone(view);
  }

  async preview(input: unknown): Promise<CollectionPlan> {
    this.#throwInjected();
    const spec = parseJobSpec(input);
    const plan = this.#plan(spec);
    this.#ensureCollectionFree(spec.target.collection);
    return plan;
  }

  async list(): Promise<JobView[]> {
    this.#throwInjected();
    return [...this.#jobs.values()].map((j) => structuredClone(j.view)).reverse();
  }

  async get(id: string): Promise<JobView> {
    this.#throwInjected();
    return structuredClone(this.#stored(id).view);
  }

  async cancel(id: string): Promise<JobView> {
    this.#throwInjected();
    const job = this.#stored(id);
    if (!ACTIVE_STATUSES.has(job.view.status) || job.view.status === 'CANCELLING') {
      throw new EtlError('JOB_STATE', `job ${id} is ${job.view.status}; only an active job can be cancelled`);
    }
    return this.#set(id, { status: job.view.status === 'PENDING' ? 'CANCELLED' : 'CANCELLING' });
  }

  async resume(id: string): Promise<JobView> {
    this.#throwInjected();
    const job = this.#stored(id);
    if (job.view.status !== 'FAILED' && job.view.status !== 'CANCELLED') {
      throw new EtlError('JOB_STATE', `job ${id} is ${job.view.status}; only a FAILED or CANCELLED job can be resumed`);
    }
    return this.#set(id, { status: 'IN_PROGRESS', error: undefined, generation: job.view.generation + 1 });
  }

  async replay(id: string, options: { collection?: string | undefined }): Promise<JobView> {
    this.#throwInjected();
    const job = this.#stored(id);
    if (ACTIVE_STATUSES.has(job.view.status)) throw new EtlError('JOB_STATE', `job ${id} is ${job.view.status}; replay a finished, failed or cancelled job`);
    if (options.collection === undefined || options.collection === job.view.target.collection) {
      return this.#set(id, { status: 'IN_PROGRESS', mode: 'replay', error: undefined, report: undefined, generation: job.view.generation + 1 });
    }
    this.#ensureCollectionFree(options.collection);
    const spec: JobSpec = { ...job.spec, target: { ...job.spec.target, collection: options.collection } };
    const created = await this.create(spec);
    return this.#set(created.id, { mode: 'replay', topicJobId: job.view.topicJobId, status: 'IN_PROGRESS' });
  }

  async errors(id: string, page: { cursor?: string | undefined; limit?: number | undefined }): Promise<ErrorsPage> {
    this.#throwInjected();
    const job = this.#stored(id);
    const start = page.cursor === undefined ? 0 : Number(page.cursor);
    if (!Number.isInteger(start) || start < 0 || start > job.dlq.length) {
      throw new EtlError('SPEC_INVALID', 'cursor is not one this job handed out', { field: 'cursor' });
    }
    const limit = page.limit ?? 100;
    const entries = job.dlq.slice(start, start + limit);
    const end = start + entries.length;
    return { entries: structuredClone(entries), total: job.dlq.length, next: end < job.dlq.length ? String(end) : null };
  }

  // ------------------------------------------------------------- test controls

  /** Move a job along as the pipeline would: any JobView fields, progress merged. */
  update(id: string, patch: Partial<Omit<JobView, 'progress'>> & { progress?: Partial<JobProgress> }): JobView {
    const job = this.#stored(id);
    const { progress, ...rest } = patch;
    return this.#set(id, { ...rest, progress: { ...job.view.progress, ...progress, updatedAt: this.#now() } });
  }

  addDlq(id: string, entries: DlqEntry[]): void {
    const job = this.#stored(id);
    job.dlq.push(...entries);
  }

  /** Finish a job: every record loaded, a passing report. */
  complete(id: string, report?: Partial<VerificationReport>): JobView {
    const job = this.#stored(id);
    const p = job.view.progress;
    const namespaces = p.namespaces.map((n) => ({ ...n, extracted: n.sourceCount, loaded: n.sourceCount - n.failed, extractionDone: true }));
    return this.#set(id, {
      status: 'SUCCESSFUL',
      progress: {
        ...p,
        namespaces,
        total: { ...p.total, extracted: p.total.sourceCount, loaded: p.total.sourceCount - p.total.failed },
        recordsPerSecond: 0,
        etaSeconds: 0,
        consumerLag: 0,
      },
      report: {
        passed: true,
        checkedAt: this.#now(),
        namespaces: namespaces.map((n) => ({
          namespace: n.namespace,
          sourceCount: n.sourceCount,
          extracted: n.extracted,
          targetCount: n.loaded,
          dlq: n.failed,
          missing: 0,
          missingSample: [],
          ok: true,
        })),
        sample: { size: 10, compared: 10, mismatches: [] },
        problems: [],
        dlqSample: job.dlq.slice(0, 10),
        ...report,
      },
    });
  }

  // ------------------------------------------------------------- internals

  #throwInjected(): void {
    if (this.#failure === undefined) return;
    const err = this.#failure;
    this.#failure = undefined;
    throw err;
  }

  #now(): string {
    return this.#clock().toISOString();
  }

  #stored(id: string): StoredJob {
    const job = this.#jobs.get(id);
    if (!job) throw new EtlError('JOB_NOT_FOUND', `no job "${id}"`, { hint: 'npx p2m jobs list shows the jobs' });
    return job;
  }

  #set(id: string, patch: Partial<JobView>): JobView {
    const job = this.#stored(id);
    job.view = { ...job.view, ...patch, updatedAt: this.#now() };
    return structuredClone(job.view);
  }

  #plan(spec: JobSpec): CollectionPlan {
    const index = this.#indexes.get(spec.source.index);
    if (!index) {
      throw new EtlError('SOURCE_INDEX_NOT_FOUND', `Pinecone index "${spec.source.index}" does not exist`, {
        field: 'source.index',
        hint: 'check the index name and the API key’s project',
      });
    }
    return planCollection({ spec, index: index.description, namespaces: index.namespaces, capabilities: fullCapabilities() });
  }

  #ensureCollectionFree(collection: string): void {
    const taken = this.existingCollections.has(collection) || [...this.#jobs.values()].some((j) => j.view.target.collection === collection);
    if (taken) {
      throw new EtlError('TARGET_COLLECTION_EXISTS', `collection "${collection}" already exists on the target`, {
        field: 'target.collection',
        hint: 'pick another collection name',
      });
    }
  }
}

export function defaultIndex(name: string, namespaces: NamespaceInfo[] = [{ name: '', recordCount: 600 }, { name: 'docs', recordCount: 400 }]): FakeIndex {
  return {
    description: { name, dimension: 8, metric: 'cosine', vectorType: 'dense', deployment: 'serverless', host: `${name}.local`, ready: true },
    namespaces,
  };
}
