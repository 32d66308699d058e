import {
  dlqTopic,
  openSecrets,
  recordKey,
  type CollectionPlan,
  type DlqEntry,
  type ErrorsPage,
  type JobProgress,
  type JobRecord,
  type JobService,
  type JobSpec,
  type JobView,
  type VerificationReport,
} from '@p2m/core';
import type { ControllerWorld } from './world.ts';

type ViewPatch = Partial<Pick<JobView, 'status' | 'mode' | 'error' | 'report' | 'plan'>> & { progress?: Partial<JobProgress> };

/**
 * The real job service of a controller world, with the controls a test of what carries it (HTTP
 * API, Jobs page, CLI) needs: the rest of the cluster is played by writing what it would write —
 * job records to `p2m.jobs`, dead letters to the job's DLQ topic — and figures the page shows are
 * pinned. The lifecycle rules (refusals, transitions, plans, paging) are the service's own.
 */
export class ScriptedJobs implements JobService {
  readonly #world: ControllerWorld;
  readonly #ready: Promise<void>;
  /** What a job view shows regardless of the service: progress figures, a missing plan. */
  readonly #pinned = new Map<string, { progress?: JobProgress; plan?: CollectionPlan | undefined }>();
  #failure: unknown;

  /** `ready`: the world's start; every call waits for it. */
  constructor(world: ControllerWorld, ready: Promise<void> = Promise.resolve()) {
    this.#world = world;
    this.#ready = ready;
  }

  /** Collections on the target that p2m did not make. */
  readonly existingCollections = { add: (name: string): void => this.#world.milvus.foreignCollection(name) };

  /** The next call (any method) throws this, as a failing backend would. */
  failNextWith(err: unknown): void {
    this.#failure = err;
  }

  /** The stored spec of a job with its secrets (tests assert they never leave the service). */
  specOf(id: string): JobSpec {
    const record = this.#record(id);
    const secrets = openSecrets(record.sealedSecrets, this.#world.secretKey);
    return { ...record.spec, source: { ...record.spec.source, apiKey: secrets.apiKey }, target: { ...record.spec.target, token: secrets.token } };
  }

  create = async (input: unknown): Promise<JobView> => this.#shown(await (await this.#call()).create(input));
  preview = async (input: unknown): Promise<CollectionPlan> => (await this.#call()).preview(input);
  list = async (): Promise<JobView[]> => (await (await this.#call()).list()).map((v) => this.#shown(v));
  get = async (id: string): Promise<JobView> => this.#shown(await (await this.#call()).get(id));
  cancel = async (id: string): Promise<JobView> => this.#shown(await (await this.#call()).cancel(id));
  resume = async (id: string): Promise<JobView> => this.#shown(await (await this.#call()).resume(id));
  replay = async (id: string, options: { collection?: string | undefined }): Promise<JobView> => this.#shown(await (await this.#call()).replay(id, options));
  errors = async (id: string, page: { cursor?: string | undefined; limit?: number | undefined }): Promise<ErrorsPage> => (await this.#call()).errors(id, page);

  /** The job moved on as the pipeline would move it: a new record in `p2m.jobs`; progress figures pinned. */
  update(id: string, patch: ViewPatch): void {
    const { progress, plan, ...rest } = patch;
    const pin = { ...this.#pinned.get(id) };
    if (progress) pin.progress = { ...(pin.progress ?? this.#world.service.view(this.#record(id)).progress), ...progress };
    if ('plan' in patch) pin.plan = plan;
    this.#pinned.set(id, pin);
    if (Object.keys(rest).length > 0) this.#put({ ...this.#record(id), ...rest });
  }

  /** Dead letters, as loaders write them. */
  addDlq(id: string, entries: DlqEntry[]): void {
    void this.#world.log.producer().send(
      dlqTopic(id),
      entries.map((e) => ({ key: recordKey(e.namespace, e.id), value: Buffer.from(JSON.stringify(e)) })),
    );
  }

  /** The job verified: every record loaded (those in the DLQ aside), a passing report. */
  complete(id: string, report?: Partial<VerificationReport>): void {
    const p = this.#world.service.view(this.#record(id)).progress;
    const live = { ...p, ...this.#pinned.get(id)?.progress };
    this.#pinned.delete(id);
    const namespaces = live.namespaces.map((n) => ({ ...n, extracted: n.sourceCount, loaded: n.sourceCount - n.failed, extractionDone: true }));
    const finalProgress: JobProgress = {
      ...live,
      namespaces,
      total: { ...live.total, extracted: live.total.sourceCount, loaded: live.total.sourceCount - live.total.failed },
      recordsPerSecond: 0,
      etaSeconds: 0,
      consumerLag: 0,
    };
    const checked = namespaces.map((n) => ({
      namespace: n.namespace,
      sourceCount: n.sourceCount,
      extracted: n.extracted,
      targetCount: n.loaded,
      dlq: n.failed,
      missing: 0,
      missingSample: [],
      ok: true,
    }));
    const passed: VerificationReport = {
      passed: true,
      checkedAt: new Date().toISOString(),
      namespaces: checked,
      sample: { size: 10, compared: 10, mismatches: [] },
      problems: [],
      dlqSample: [],
      ...report,
    };
    this.#put({ ...this.#record(id), status: 'SUCCESSFUL', report: passed, finalProgress, error: undefined });
  }

  #put(record: JobRecord): void {
    void this.#world.service.board.putJob({ ...record, updatedAt: new Date(Math.max(Date.now(), Date.parse(record.updatedAt) + 1)).toISOString() });
  }

  #record(id: string): JobRecord {
    const record = this.#world.service.board.jobs.get(id);
    if (!record) throw new Error(`no job ${id} on the board`);
    return record;
  }

  async #call(): Promise<JobService> {
    await this.#ready;
    const err = this.#failure;
    if (err !== undefined) {
      this.#failure = undefined;
      throw err;
    }
    return this.#world.service;
  }

  #shown(view: JobView): JobView {
    const pin = this.#pinned.get(view.id);
    if (!pin) return view;
    const shown = 'plan' in pin ? { ...view, plan: pin.plan } : view;
    // Pinned figures show whatever the status: a FAILED job keeps the progress it stopped at.
    return pin.progress ? { ...shown, progress: pin.progress } : shown;
  }
}
