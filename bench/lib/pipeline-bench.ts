import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { dlqTopic, isRetriable, loaderGroup, recordsTopic, type LogClient } from '@p2m/core';
import { createMilvusSink } from '@p2m/milvus-sink';
import { REPO_ROOT, serviceArgs } from '@p2m/stack';
import type { Runtime } from '@p2m/cli';
import { cancelAndSettle } from './jobs.ts';
import { benchPlan, type DatasetKind } from './dataset.ts';
import { CpuMeter, machineCpu, memoryMb, round2, secondsOf } from './proc.ts';

/**
 * p2m end to end as it is deployed: the extractor and N loader processes (`p2m service …`, one
 * loader worker each) against the bench stack; the controller runs in the bench process and
 * creates the job. Throughput = records loaded (committed after Milvus acknowledged, read from the
 * loader group's offset metadata) over the time from job creation until the last one was loaded.
 * Index build, collection load and verification are not part of it.
 */
export interface PipelineRun {
  loaders: number;
  /** The loaders' Milvus write path. */
  writer: string;
  records: number;
  seconds: number;
  rowsPerSec: number;
  /** Time until every record was in the records topic. */
  extractSeconds: number;
  /**
   * A flush of the collection once everything is loaded, and the rate counting it: on Milvus Lite
   * the loaders commit only flushed writes, so this flush finds little left to do.
   */
  flushSeconds: number;
  durableRowsPerSec: number;
  peakRssMb: { extractor: number; loaders: number[] };
  cpuSeconds: Record<string, number>;
  /** The machine's busy CPU seconds during the run against the pipeline's own (other work shares the cores). */
  machine: { busyCpuSeconds: number; ownCpuSeconds: number; load1AtStart: number; load1AtEnd: number };
  cpuProfile?: { extractor?: string | undefined; loader?: string | undefined; startupMs: number };
}

export interface PipelineSetup {
  /** Makes a controller runtime (in this process) to create and later cancel the job. */
  controller: () => Promise<Runtime>;
  log: LogClient;
  env: Record<string, string>;
  controllerHostUrl: string;
  apiKey: string;
  index: string;
  address: string;
  /** Stack pids by name (kafka, registry, milvus) plus the emulator. */
  pids: Record<string, number>;
  options?: Record<string, unknown>;
}

/** Every service process the bench started and has not stopped yet (killed if the bench is interrupted). */
export const runningServices = new Set<ChildProcess>();

export interface Service {
  child: ChildProcess;
  name: string;
  stopped: Promise<void>;
}

/**
 * `repo` runs the service from another checkout (its `bin/p2m.js`), e.g. main's for a before/after
 * in the same sitting; it must read the job records this checkout's controller writes.
 */
export function startService(
  role: 'extractor' | 'loader',
  name: string,
  env: Record<string, string>,
  nodeArgs: string[] = [],
  repo?: string,
): Promise<Service> {
  const args = serviceArgs(role, nodeArgs);
  if (repo) args[args.length - 3] = join(repo, 'bin', 'p2m.js');
  const child = spawn(process.execPath, args, {
    cwd: repo ?? REPO_ROOT,
    env: { ...process.env, ...env, P2M_SERVICE_ID: name, P2M_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  runningServices.add(child);
  const stopped = new Promise<void>((resolve) =>
    child.once('exit', () => {
      runningServices.delete(child);
      resolve();
    }),
  );
  let log = '';
  return new Promise((resolve, reject) => {
    const onData = (d: Buffer): void => {
      log = (log + d.toString()).slice(-20_000);
      if (log.includes('service started')) resolve({ child, name, stopped });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-20_000)));
    child.once('exit', (code) => reject(new Error(`${name} exited (${code}) before it started: ${log.slice(-800)}`)));
  });
}

export async function stopService(s: Service): Promise<void> {
  if (s.child.exitCode !== null) return;
  s.child.kill('SIGTERM');
  const timer = setTimeout(() => s.child.kill('SIGKILL'), 20_000);
  await s.stopped;
  clearTimeout(timer);
}

/** One run into `opts.collection`, which the job creates and this drops afterwards. */
export async function measurePipeline(
  setup: PipelineSetup,
  loaders: number,
  records: number,
  opts: { collection: string; kind: DatasetKind; profileDir?: string; env?: Record<string, string>; repo?: string | undefined },
): Promise<PipelineRun> {
  const services: Service[] = [];
  const sink = createMilvusSink({ address: setup.address, timeoutMs: 300_000 });
  try {
    const spawned = performance.now();
    const profileArgs = (who: string): string[] => (opts.profileDir ? [`--cpu-prof`, `--cpu-prof-dir=${join(opts.profileDir, who)}`] : []);
    if (opts.profileDir) for (const who of ['extractor', 'loader']) mkdirSync(join(opts.profileDir, who), { recursive: true });
    const started = await Promise.all([
      startService('extractor', 'bench-extractor', { ...setup.env, ...opts.env }, profileArgs('extractor'), opts.repo),
      ...Array.from({ length: loaders }, (_, i) =>
        startService('loader', `bench-loader-${i + 1}`, { ...setup.env, ...opts.env }, i === 0 ? profileArgs('loader') : [], opts.repo),
      ),
    ]);
    services.push(...started);
    const [extractor, ...loaderServices] = started as [Service, ...Service[]];
    const pids: Record<string, number> = { ...setup.pids, extractor: extractor.child.pid!, controller: process.pid };
    loaderServices.forEach((s, i) => (pids[`loader${i + 1}`] = s.child.pid!));
    const meter = new CpuMeter(pids).start();
    const machine0 = machineCpu();

    // The controller creates the job (plan, topic, collection) and is stopped at once: workers need
    // only the job board, and a controller left running would flush, index and verify the
    // collection once everything is loaded, on the CPU of the next measurement.
    const t0 = performance.now();
    const controller = await setup.controller();
    let jobId: string;
    try {
      const job = await controller.jobs!.create({
        source: { apiKey: setup.apiKey, index: setup.index, controllerHostUrl: setup.controllerHostUrl },
        target: { address: setup.address, collection: opts.collection },
        ...(setup.options ? { options: setup.options } : {}),
      });
      jobId = job.id;
      // Set-up postponed by a slow Milvus or Kafka leaves the job PENDING for its owner, this
      // controller, to finish: wait for it, or the services would wait for a topic forever.
      let view = job;
      for (const until = Date.now() + 120_000; view.status === 'PENDING'; view = await controller.jobs!.get(jobId)) {
        if (Date.now() > until) throw new Error(`job ${jobId} still PENDING after 120 s: its set-up (topics, collection) did not finish`);
        await new Promise((r) => setTimeout(r, 500));
      }
      // A job that ended during its set-up would leave the loop below polling an hour for nothing.
      if (view.status === 'FAILED' || view.status === 'CANCELLED') {
        throw new Error(`job ${jobId} ${view.status} during its set-up: ${JSON.stringify(view.error ?? null)}`);
      }
    } finally {
      await controller.stop();
    }
    const admin = setup.log.admin();
    let extractSeconds = 0;
    let loadedAt = 0;
    let loaded = 0;
    const deadline = Date.now() + 3_600_000;
    try {
      for (;;) {
        let polled = false;
        const now = performance.now();
        try {
          const committed = await admin.groupOffsets(loaderGroup(jobId), recordsTopic(jobId));
          loaded = committed.reduce((sum, o) => {
            const counts = o.metadata ? (JSON.parse(o.metadata) as { l?: number; d?: number }) : {};
            return sum + (counts.l ?? 0) + (counts.d ?? 0);
          }, 0);
          if (!extractSeconds) {
            const high = (await admin.topicOffsets(recordsTopic(jobId))).reduce((sum, o) => sum + Number(o.high), 0);
            if (high >= records) extractSeconds = (now - t0) / 1000;
          }
          polled = true;
        } catch (err) {
          // A topic just created may not be known to the broker's metadata yet: poll again.
          if (!isRetriable(err)) throw err;
        }
        // Without loaders the extractor is measured alone: done once everything is in the topic.
        if (polled && (loaded >= records || (loaders === 0 && extractSeconds > 0))) {
          loadedAt = now;
          if (loaders === 0) loaded = records;
          break;
        }
        if (services.some((s) => s.child.exitCode !== null)) throw new Error('a pipeline process exited during the run');
        if (Date.now() > deadline) throw new Error(`pipeline still loading after an hour: ${loaded} of ${records}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    } finally {
      await admin.close();
    }
    const flushSeconds = loaders === 0 ? 0 : await secondsOf(() => sink.flush(benchPlan(opts.kind, opts.collection, setup.address)));
    const cpu = meter.stop();
    const machine1 = machineCpu();
    const peak = { extractor: memoryMb(extractor.child.pid!).peak, loaders: loaderServices.map((s) => memoryMb(s.child.pid!).peak) };
    for (const s of services) await stopService(s);
    // Cancelled, so that no later worker process picks the job up again, and CANCELLED before its
    // topics go.
    const after = await setup.controller();
    try {
      const stuck = await cancelAndSettle(after, [jobId]);
      if (stuck.length > 0) throw new Error(`job ${jobId} still not CANCELLED 30 s after its cancel`);
    } finally {
      await after.stop();
    }
    // The job's log is what makes a replay possible; a benchmark has no use for it, and 1,000,000
    // records are 3.6 GB of disk.
    const cleanup = setup.log.admin();
    try {
      for (const topic of [recordsTopic(jobId), dlqTopic(jobId)]) await cleanup.deleteTopic(topic).catch(() => undefined);
    } finally {
      await cleanup.close();
    }
    const seconds = (loadedAt - t0) / 1000;
    const run: PipelineRun = {
      loaders,
      writer: opts.env?.['P2M_MILVUS_WRITER'] ?? setup.env['P2M_MILVUS_WRITER'] ?? 'grpc',
      records: loaded,
      seconds: round2(seconds),
      rowsPerSec: Math.round(loaded / seconds),
      extractSeconds: round2(extractSeconds || seconds),
      flushSeconds: round2(flushSeconds),
      durableRowsPerSec: Math.round(loaded / (seconds + flushSeconds)),
      peakRssMb: { ...peak, loaders: [...peak.loaders] },
      cpuSeconds: cpu,
      machine: {
        busyCpuSeconds: round2(machine1.busySeconds - machine0.busySeconds),
        ownCpuSeconds: round2(Object.values(cpu).reduce((a, b) => a + b, 0)),
        load1AtStart: machine0.load1,
        load1AtEnd: machine1.load1,
      },
    };
    if (opts.profileDir) {
      const newest = (who: string): string | undefined => {
        const file = readdirSync(join(opts.profileDir!, who))
          .filter((f) => f.endsWith('.cpuprofile'))
          .sort()
          .pop();
        // Relative to the repository, so results never carry a path of the machine they ran on.
        return file ? relative(process.cwd(), join(opts.profileDir!, who, file)) : undefined;
      };
      run.cpuProfile = { extractor: newest('extractor'), loader: newest('loader'), startupMs: Math.round(t0 - spawned) };
    }
    return run;
  } finally {
    for (const s of services) await stopService(s).catch(() => undefined);
    await sink.dropCollection(opts.collection).catch(() => undefined);
    await sink.close();
  }
}

/**
 * CPU milliseconds per record of p2m's own processes: the extractor, the loaders together, and the
 * controller (in the bench it is the bench process: it creates the job and polls the offsets).
 */
export function p2mCpuMsPerRecord(run: PipelineRun): { extractor: number; loader: number; controller: number; total: number } {
  const per = (seconds: number): number => Math.round((seconds * 1e6) / run.records) / 1000;
  const loaders = Object.entries(run.cpuSeconds)
    .filter(([name]) => name.startsWith('loader'))
    .reduce((sum, [, s]) => sum + s, 0);
  const extractor = run.cpuSeconds['extractor'] ?? 0;
  const controller = run.cpuSeconds['controller'] ?? 0;
  return { extractor: per(extractor), loader: per(loaders), controller: per(controller), total: per(extractor + loaders + controller) };
}

/** The run's `--cpu-prof` files summarised (summariseProfile), by process; null for a run without them. */
export function profileSummary(run: PipelineRun): Record<string, Record<string, number>> | null {
  const p = run.cpuProfile;
  if (!p) return null;
  return Object.fromEntries((['extractor', 'loader'] as const).flatMap((who) => (p[who] ? [[who, summariseProfile(p[who], p.startupMs)]] : [])));
}

/**
 * Self time of a V8 .cpuprofile by where the code lives: Kafka, Avro, Milvus client, Pinecone
 * client, p2m, GC. Built-ins (JSON.parse, buffer copies, …) count for the library that called them.
 */
export function summariseProfile(file: string, skipMs = 0): Record<string, number> {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as {
    nodes: { id: number; callFrame: { functionName: string; url: string }; children?: number[] }[];
    samples: number[];
    timeDeltas: number[];
  };
  const parent = new Map<number, number>();
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const category = new Map<number, string>();
  const categoryOf = (id: number): string => {
    const known = category.get(id);
    if (known) return known;
    const n = byId.get(id)!;
    let c = categorise(n.callFrame.url, n.callFrame.functionName);
    if (c === 'inherit') {
      const p = parent.get(id);
      c = p === undefined ? 'node internals' : categoryOf(p);
      if (c === 'idle' || c === 'runtime (program)' || c === 'GC' || c === 'root') c = 'node internals';
    }
    category.set(id, c);
    return c;
  };
  const ms: Record<string, number> = {};
  let elapsed = 0;
  profile.samples.forEach((id, i) => {
    elapsed += (profile.timeDeltas[i] ?? 0) / 1000;
    // The process's start (module loading, connecting) is not part of the per-record cost.
    if (elapsed < skipMs) return;
    const c = categoryOf(id);
    ms[c] = (ms[c] ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000;
  });
  const busy = Object.entries(ms)
    .filter(([k]) => k !== 'idle')
    .reduce((sum, [, v]) => sum + v, 0);
  return Object.fromEntries(
    Object.entries(ms)
      .filter(([k]) => k !== 'idle')
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => [k, Math.round((v / busy) * 1000) / 10]),
  );
}

function categorise(url: string, fn: string): string {
  if (fn === '(idle)') return 'idle';
  if (fn === '(program)') return 'runtime (program)';
  if (fn === '(garbage collector)') return 'GC';
  if (fn === '(root)') return 'root';
  if (/kafkajs/.test(url)) return 'Kafka client (kafkajs)';
  if (/avsc|confluent-schema-registry|packages\/codec/.test(url)) return 'Avro (avsc + codec)';
  if (/@grpc|protobufjs|milvus2-sdk-node|packages\/milvus-sink/.test(url)) return 'Milvus client (gRPC, protobuf, sink)';
  if (/pinecone-database|packages\/pinecone-source/.test(url)) return 'Pinecone client (SDK + adapter)';
  if (/pino|sonic-boom|thread-stream/.test(url)) return 'logging';
  if (/undici/.test(url)) return 'HTTP responses (undici fetch + JSON.parse: Pinecone, registry)';
  if (/\/(packages|services)\//.test(url)) return 'p2m (services, core)';
  if (url.startsWith('node:') || url === '') return 'inherit';
  return 'other libraries';
}
