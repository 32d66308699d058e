// The chaos run, shared by `npm run chaos` (test/chaos/run.ts, its own stack) and the short run in
// the suite (test/integration/chaos-short.test.ts, the shared test stack). A hybrid (or dense) migration runs
// through separate controller, extractor and loader processes while a schedule derived from one
// seed SIGKILLs and restarts them, restarts the Kafka broker and Milvus, and makes the in-process
// Pinecone emulator answer 429s, 5xx, slowly or not at all. At the end the job must be SUCCESSFUL
// with an empty DLQ and the target must equal the source record by record.
// No vitest here: the standalone runner imports it too.
import { generateRecords, startEmulator, type Emulator, type GeneratorOptions } from '@p2m/emulator';
import { createMilvusSink } from '@p2m/milvus-sink';
import type { CollectionPlan, VectorRecord } from '@p2m/core';
import { toVectorRecord } from '../../bench/lib/dataset.ts';

export interface ChaosProcess {
  readonly name: string;
  /** The controller's base URL (controller only). */
  readonly url: string;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** What a chaos run needs from its surroundings (test stack or the runner's own stack). */
export interface ChaosEnv {
  milvusAddress: string;
  /** Starts `p2m service <role>` and resolves once it is started; the controller uses `apiToken`. */
  spawn(role: 'controller' | 'extractor' | 'loader', name: string, apiToken: string): Promise<ChaosProcess>;
  killComponent(name: 'kafka' | 'milvus', signal: NodeJS.Signals): Promise<void>;
  startComponent(name: 'kafka' | 'milvus'): Promise<void>;
  log(line: string): void;
}

export interface ChaosOptions {
  seed: number;
  count: number;
  dim?: number;
  namespaces?: number;
  loaders?: number;
  /** How many faults the schedule holds. */
  faults: number;
  /** Which fault kinds may be drawn (default all). */
  kinds?: FaultKind[];
  /** Index and collection names get this suffix (unique per run). */
  tag: string;
  apiToken: string;
  timeoutMs?: number;
  /** The job's source budget (fetch calls per second): slower extraction leaves room for the faults. */
  fetchPerSecond?: number;
  /**
   * `hybrid` (default): dotproduct with sparse values on every record. `dense`: cosine, no sparse
   * values, for targets without sparse vectors (the Milvus 2.3.5 standalone server).
   */
  vectors?: 'hybrid' | 'dense';
  /** One partition per namespace instead of the partition key (a target whose upsert ignores the key, Milvus 2.3.5). */
  partitions?: boolean;
}

export type FaultKind = 'kill-loader' | 'kill-extractor' | 'kill-controller' | 'restart-kafka' | 'restart-milvus' | 'source-faults';
export const ALL_KINDS: FaultKind[] = ['kill-loader', 'kill-extractor', 'kill-controller', 'restart-kafka', 'restart-milvus', 'source-faults'];

export interface ScheduledFault {
  kind: FaultKind;
  /** Fires once this share of the records is loaded (or extraction got this far). */
  atShare: number;
  /** How long the victim stays down, or the source misbehaves. */
  downMs: number;
  /** source-faults only: what the emulator does meanwhile. */
  source?: { errorRate: number; dropRate: number; latencyMs: number; statuses: number[]; fetchPerSecond: number };
}

export interface InjectedFault extends ScheduledFault {
  firedAt: string;
  elapsedMs: number;
  loadedAtFire: number;
  detail: string;
}

export interface ChaosResult {
  seed: number;
  jobId: string;
  collection: string;
  status: string;
  error: unknown;
  injected: InjectedFault[];
  skipped: ScheduledFault[];
  dlq: number;
  emulator: { errors: number; drops: number; delayed: number; rateLimited: number; statuses: Record<string, number> };
  /** Differences between the target and the source; empty when they are equal. */
  problems: string[];
  seconds: number;
}

/** mulberry32: a small seeded PRNG, so a schedule can be replayed from its seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The fault schedule of a seed: every kind at least once when `faults` allows, in random order. */
export function schedule(seed: number, faults: number, kinds: FaultKind[] = ALL_KINDS): ScheduledFault[] {
  const rnd = prng(seed);
  const pick: FaultKind[] = [];
  for (let i = 0; i < faults; i++) pick.push(i < kinds.length ? kinds[i]! : kinds[Math.floor(rnd() * kinds.length)]!);
  // Fisher–Yates, seeded.
  for (let i = pick.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [pick[i], pick[j]] = [pick[j]!, pick[i]!];
  }
  // Spread over 3 %–63 % of the way, so each fault lands while work is in flight.
  const shares = pick.map(() => 0.03 + rnd() * 0.6).sort((a, b) => a - b);
  return pick.map((kind, i) => {
    const fault: ScheduledFault = { kind, atShare: Math.round(shares[i]! * 1000) / 1000, downMs: Math.round(500 + rnd() * 2500) };
    if (kind === 'source-faults') {
      fault.downMs = Math.round(3000 + rnd() * 5000);
      fault.source = {
        errorRate: Math.round((0.1 + rnd() * 0.3) * 100) / 100,
        dropRate: Math.round(rnd() * 0.1 * 100) / 100,
        latencyMs: Math.round(rnd() * 800),
        statuses: [500, 502, 503],
        fetchPerSecond: 1 + Math.floor(rnd() * 2),
      };
    }
    return fault;
  });
}

const API_KEY = 'chaos-api-key-0123456789';
/** Milvus is SIGKILLed like Kafka; P2M_CHAOS_MILVUS_SIGNAL=SIGTERM makes its restarts graceful. */
const MILVUS_RESTART_SIGNAL = (process.env.P2M_CHAOS_MILVUS_SIGNAL || 'SIGKILL') as NodeJS.Signals;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function api(base: () => string, token: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${base()}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

export async function runChaos(env: ChaosEnv, options: ChaosOptions): Promise<ChaosResult> {
  const started = Date.now();
  const vectors = options.vectors ?? 'hybrid';
  const data: GeneratorOptions = {
    seed: options.seed,
    count: options.count,
    dim: options.dim ?? 16,
    namespaces: options.namespaces ?? 3,
    sparse: vectors === 'hybrid',
    sparseNonZeros: 8,
    edgeCases: false,
  };
  const plan = schedule(options.seed, options.faults, options.kinds);
  env.log(`chaos: seed ${options.seed}, ${options.count} ${vectors} records, schedule ${JSON.stringify(plan)}`);
  const index = `chaos-${options.tag}`
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .slice(0, 45);
  const collection = `chaos_${options.tag}`.replace(/[^A-Za-z0-9_]/g, '_');

  const emulator: Emulator = await startEmulator({ port: 0, apiKey: API_KEY, rateLimits: false, seed: options.seed });
  const procs: { controller?: ChaosProcess; extractor?: ChaosProcess; loaders: ChaosProcess[] } = { loaders: [] };
  let generation = 0;
  const name = (role: string) => `${role}-${options.tag}-${++generation}`;
  try {
    await emulator.createIndex({ name: index, dimension: data.dim, metric: vectors === 'hybrid' ? 'dotproduct' : 'cosine' });
    const loadedIntoSource = emulator.load(index, generateRecords(data));
    if (loadedIntoSource !== options.count) throw new Error(`the emulator took ${loadedIntoSource} of ${options.count} records`);

    procs.controller = await env.spawn('controller', name('controller'), options.apiToken);
    [procs.extractor, ...procs.loaders] = await Promise.all([
      env.spawn('extractor', name('extractor'), options.apiToken),
      ...Array.from({ length: options.loaders ?? 2 }, () => env.spawn('loader', name('loader'), options.apiToken)),
    ]);
    const base = () => procs.controller!.url;
    const created = await api(base, options.apiToken, 'POST', '/v1/jobs', {
      source: { apiKey: API_KEY, index, controllerHostUrl: emulator.controllerHostUrl },
      target: { address: env.milvusAddress, collection, ...(options.partitions ? { partitionKey: false } : {}) },
      options: {
        batchBytes: 256 * 1024,
        topicPartitions: 6,
        fetchBatchSize: 50,
        rateLimits: { listPerSecond: 200, fetchPerSecond: options.fetchPerSecond ?? 100 },
      },
    });
    if (created.status !== 201) throw new Error(`POST /v1/jobs answered ${created.status}: ${JSON.stringify(created.body)}`);
    const jobId: string = created.body.id;
    env.log(`chaos: job ${jobId} → collection ${collection}`);

    /** The job as the controller shows it; null while the controller is unreachable. */
    const view = async (): Promise<any | null> => {
      try {
        const r = await api(base, options.apiToken, 'GET', `/v1/jobs/${jobId}`);
        return r.status === 200 ? r.body : null;
      } catch {
        return null;
      }
    };
    const share = (v: any): number => {
      const t = v?.progress?.total ?? {};
      // Extraction runs ahead of loading; the average of both moves through the whole run.
      return ((t.extracted ?? 0) + (t.loaded ?? 0)) / (2 * options.count);
    };

    const injected: InjectedFault[] = [];
    const skipped: ScheduledFault[] = [];
    const deadline = Date.now() + (options.timeoutMs ?? 30 * 60_000);
    // Two lanes at once: faults of the source fire by how much of it has been read (a source fault
    // after the extractor has read everything would meet no request: under load the loaders lag and
    // the combined share reaches it late), the others by the combined share, one after another.
    const extractedShare = (v: any): number => (v?.progress?.total?.extracted ?? 0) / options.count;
    const lane = async (faults: ScheduledFault[], shareOf: (v: any) => number): Promise<void> => {
      for (const fault of faults) {
        let v: any = null;
        for (;;) {
          v = await view();
          if (v && v.status !== 'IN_PROGRESS' && v.status !== 'PENDING') break;
          if (v && shareOf(v) >= fault.atShare) break;
          if (Date.now() > deadline) throw new Error(`chaos: timed out waiting to inject ${fault.kind}`);
          await sleep(200);
        }
        if (v.status !== 'IN_PROGRESS' && v.status !== 'PENDING') {
          skipped.push(fault);
          env.log(`chaos: skipped ${fault.kind} at ${fault.atShare} (job already ${v.status})`);
          continue;
        }
        const firedAt = new Date();
        const loadedAtFire = v.progress?.total?.loaded ?? 0;
        const detail = await inject(fault);
        const entry: InjectedFault = { ...fault, firedAt: firedAt.toISOString(), elapsedMs: firedAt.getTime() - started, loadedAtFire, detail };
        injected.push(entry);
        env.log(
          `chaos: +${(entry.elapsedMs / 1000).toFixed(1)}s ${fault.kind} (${detail}) at loaded=${loadedAtFire}, extracted=${v.progress?.total?.extracted}`,
        );
      }
    };
    await Promise.all([
      lane(
        plan.filter((f) => f.kind === 'source-faults'),
        extractedShare,
      ),
      lane(
        plan.filter((f) => f.kind !== 'source-faults'),
        share,
      ),
    ]);
    injected.sort((a, b) => a.elapsedMs - b.elapsedMs);

    async function inject(fault: ScheduledFault): Promise<string> {
      const rnd = prng(options.seed ^ Math.round(fault.atShare * 1e6));
      switch (fault.kind) {
        case 'kill-loader': {
          const i = Math.floor(rnd() * procs.loaders.length);
          const victim = procs.loaders[i]!;
          await victim.kill('SIGKILL');
          await sleep(fault.downMs);
          procs.loaders[i] = await env.spawn('loader', name('loader'), options.apiToken);
          return `SIGKILL ${victim.name}, restarted as ${procs.loaders[i]!.name} after ${fault.downMs} ms`;
        }
        case 'kill-extractor': {
          const victim = procs.extractor!;
          await victim.kill('SIGKILL');
          await sleep(fault.downMs);
          procs.extractor = await env.spawn('extractor', name('extractor'), options.apiToken);
          return `SIGKILL ${victim.name}, restarted as ${procs.extractor.name} after ${fault.downMs} ms`;
        }
        case 'kill-controller': {
          const victim = procs.controller!;
          await victim.kill('SIGKILL');
          await sleep(fault.downMs);
          procs.controller = await env.spawn('controller', name('controller'), options.apiToken);
          return `SIGKILL ${victim.name}, restarted as ${procs.controller.name} after ${fault.downMs} ms`;
        }
        case 'restart-kafka':
        case 'restart-milvus': {
          const component = fault.kind === 'restart-kafka' ? 'kafka' : 'milvus';
          // Both are SIGKILLed. Milvus Lite loses writes it has not flushed, so the loaders commit
          // offsets only after a flush (flushBeforeCommit: auto): whatever the kill took is read
          // from Kafka again. The standalone server keeps acknowledged writes in its WAL.
          const signal: NodeJS.Signals = component === 'milvus' ? MILVUS_RESTART_SIGNAL : 'SIGKILL';
          await env.killComponent(component, signal);
          await sleep(fault.downMs);
          await env.startComponent(component);
          return `${signal} ${component}, started again after ${fault.downMs} ms`;
        }
        case 'source-faults': {
          const s = fault.source!;
          // 5xx, dropped connections and slow answers from the fault injector; 429s from request
          // budgets far below the job's own.
          emulator.setFaults({
            errorRate: s.errorRate,
            errorStatuses: s.statuses,
            dropRate: s.dropRate,
            latencyMs: s.latencyMs,
            controlPlane: true,
            seed: options.seed,
          });
          emulator.setRateLimits({ fetch: s.fetchPerSecond, list: s.fetchPerSecond * 2, describe_index_stats: 2, list_namespaces: 2 });
          await sleep(fault.downMs);
          emulator.setFaults({});
          emulator.setRateLimits(false);
          const st = emulator.stats();
          return `emulator ${JSON.stringify(s)} for ${fault.downMs} ms (so far: ${st.faults.errors} errors, ${st.faults.drops} drops, ${st.faults.delayed} delayed, ${st.rateLimited} 429s)`;
        }
      }
    }

    let done: any = null;
    for (;;) {
      done = await view();
      if (done && ['SUCCESSFUL', 'FAILED', 'CANCELLED'].includes(done.status)) break;
      if (Date.now() > deadline) throw new Error(`chaos: job ${jobId} still ${done?.status} at the deadline: ${JSON.stringify(done?.progress?.total)}`);
      await sleep(500);
    }
    const errors = await api(base, options.apiToken, 'GET', `/v1/jobs/${jobId}/errors?limit=10`);
    const dlq: number = errors.body?.total ?? -1;
    const planView = await api(base, options.apiToken, 'GET', `/v1/jobs/${jobId}/plan`);
    // A failed job may have left the collection unloaded (a real server refuses to query it): the
    // comparison's own failure is one more problem, never one that hides the job's error.
    const problems =
      planView.status === 200
        ? await compareTargetToSource(env.milvusAddress, planView.body as CollectionPlan, data).catch((err: unknown) => [
            `comparing the target with the source failed: ${err instanceof Error ? err.message : String(err)}`,
          ])
        : [`GET plan answered ${planView.status}`];
    const stats = emulator.stats();
    return {
      seed: options.seed,
      jobId,
      collection,
      status: done.status,
      error: done.error ?? null,
      injected,
      skipped,
      dlq,
      emulator: { ...stats.faults, rateLimited: stats.rateLimited, statuses: stats.statuses },
      problems,
      seconds: Math.round((Date.now() - started) / 1000),
    };
  } finally {
    const running = [procs.controller, procs.extractor, ...procs.loaders].filter((p): p is ChaosProcess => p !== undefined);
    await Promise.all(running.map((p) => p.kill('SIGTERM').catch(() => undefined)));
    await emulator.close();
  }
}

/**
 * The whole target against the whole source (what expectTargetEqualsSource checks, without vitest):
 * the same ids in each namespace, dense values as exact float32, sparse exactly, metadata deep-equal.
 * Returns the differences (the first 20), empty when equal.
 */
export async function compareTargetToSource(address: string, plan: CollectionPlan, source: GeneratorOptions): Promise<string[]> {
  const problems: string[] = [];
  const add = (p: string) => {
    if (problems.length < 20) problems.push(p);
  };
  const expected = new Map<string, Map<string, VectorRecord>>();
  for (const g of generateRecords(source)) {
    let byId = expected.get(g.namespace);
    if (!byId) expected.set(g.namespace, (byId = new Map()));
    byId.set(g.id, toVectorRecord(g));
  }
  const sink = createMilvusSink({ address });
  const canon = (x: unknown): string =>
    JSON.stringify(x, (_k, v) =>
      v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1))) : v,
    );
  const sparseKey = (s: VectorRecord['sparse']) => canon(s ? s.indices.map((x, j) => [x, s.values[j]]).sort((a, b) => a[0]! - b[0]!) : []);
  try {
    for (const [ns, byId] of expected) {
      const ids: string[] = [];
      let after: string | null = null;
      for (;;) {
        const page = await sink.listIds(plan, ns, after, 10_000);
        ids.push(...page);
        if (page.length < 10_000) break;
        after = page[page.length - 1]!;
      }
      if (new Set(ids).size !== ids.length) add(`namespace "${ns}": ${ids.length - new Set(ids).size} duplicate ids`);
      const have = new Set(ids);
      const missing = [...byId.keys()].filter((id) => !have.has(id));
      const extra = ids.filter((id) => !byId.has(id));
      if (missing.length) add(`namespace "${ns}": ${missing.length} missing ids, e.g. ${missing.slice(0, 5).join(', ')}`);
      if (extra.length) add(`namespace "${ns}": ${extra.length} unexpected ids, e.g. ${extra.slice(0, 5).join(', ')}`);
      for (let i = 0; i < ids.length; i += 1000) {
        const chunk = ids.slice(i, i + 1000);
        const got = await sink.getRecords(plan, ns, chunk);
        if (got.length !== chunk.length) add(`namespace "${ns}": asked for ${chunk.length} records, got ${got.length}`);
        for (const r of got) {
          const want = byId.get(r.id);
          if (!want) continue;
          if (r.namespace !== ns) add(`${ns}/${r.id}: namespace ${r.namespace}`);
          if (plan.hasDense && canon(Array.from(r.values ?? [])) !== canon(Array.from(want.values ?? []))) add(`${ns}/${r.id}: dense values differ`);
          if (plan.hasSparse && sparseKey(r.sparse) !== sparseKey(want.sparse)) add(`${ns}/${r.id}: sparse values differ`);
          if (canon(r.metadata ?? {}) !== canon(want.metadata ?? {})) add(`${ns}/${r.id}: metadata differs: ${canon(r.metadata)} vs ${canon(want.metadata)}`);
        }
      }
    }
  } finally {
    await sink.close();
  }
  return problems;
}
