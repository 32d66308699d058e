/**
 * Verification at scale: `npm run bench:verify -- [--records N] [--dim D] [--namespaces K]
 * [--loaders N] [--kind dense|hybrid] [--ids reused] [--milvus lite|standalone] [--warmup N] [--stack-dir DIR]
 * [--target JSON] [--out NAME] [--keep-stack] [--keep-job] [--profile DIR]` (`--target '{"partitionKey":false}'` adds to
 * the jobs' target, e.g. partitions mode for Milvus 2.3) (`--keep-job` leaves the job's topic and collection for a
 * closer look; `--milvus standalone` runs the bench stack with the standalone server instead of
 * Milvus Lite, in `.p2m-bench-standalone/`).
 *
 * p2m as deployed — `p2m service controller`, `extractor` and N `loader` processes — migrates the
 * emulator's generated index (Pinecone's rate limits and 20–40 ms per call, as in `npm run bench`),
 * then verifies it. Measured from outside the controller process: its resident memory idle (after
 * the warm-up job, nothing running), its peak while the job loads and its peak while it verifies (VmHWM, reset between the
 * two through /proc/<pid>/clear_refs), the load's time (job created → VERIFYING) and each phase of
 * verification from the report. Prints one JSON line (and writes bench/results/NAME.json with --out).
 *
 * `--stack-dir` runs on an existing stack (e.g. `.p2m-test`, the integration tests' stack on your
 * own ports) instead of starting the bench stack (`.p2m-bench`, fixed ports).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createLogger, dlqTopic, recordsTopic, type JobView } from '@p2m/core';
import { createKafka } from '@p2m/kafka';
import { createMilvusSink } from '@p2m/milvus-sink';
import { readStackEnv, REPO_ROOT, serviceArgs } from '@p2m/stack';
import type { DatasetKind, DatasetShape } from './lib/dataset.ts';
import { BenchEmulator } from './lib/emulator.ts';
import { summariseProfile } from './lib/pipeline-bench.ts';
import { cpuSeconds, machineCpu, memoryMb, round2, rssByKindMb } from './lib/proc.ts';
import { BENCH_STACK } from './lib/stack.ts';
import { stackDown, stackUp, type MilvusServer } from '@p2m/stack';

const argv = process.argv.slice(2);
const opt = (name: string): string | undefined => (argv.includes(`--${name}`) ? argv[argv.indexOf(`--${name}`) + 1] : undefined);
const RECORDS = Number(opt('records') ?? 1_000_000);
const DIM = Number(opt('dim') ?? 8);
const NAMESPACES = Number(opt('namespaces') ?? 2);
const LOADERS = Number(opt('loaders') ?? 2);
const KIND = (opt('kind') ?? 'dense') as DatasetKind;
/** `--ids reused`: the same ids in every namespace (as multi-tenant indexes have); default: distinct ids. */
const IDS = opt('ids') as DatasetShape['ids'];
if (IDS !== undefined && !['documents', 'ordered', 'reused'].includes(IDS)) throw new Error(`--ids must be documents, ordered or reused, got ${String(IDS)}`);
const STACK_DIR = opt('stack-dir');
const OUT = opt('out');
const WARMUP = Number(opt('warmup') ?? 2_000);
const MILVUS = (opt('milvus') ?? 'lite') as MilvusServer;
if (MILVUS !== 'lite' && MILVUS !== 'standalone') throw new Error(`--milvus must be lite or standalone, got ${String(MILVUS)}`);
/** `--profile DIR`: a `--cpu-prof` of the controller into DIR (written when it stops), summarised at the end. */
const PROFILE_DIR = opt('profile') ? resolve(opt('profile')!) : null;
const TARGET = opt('target') ? (JSON.parse(opt('target')!) as Record<string, unknown>) : {};
const STACK = MILVUS === 'lite' ? BENCH_STACK : { ...BENCH_STACK, milvus: MILVUS, stateDir: `${BENCH_STACK.stateDir!}-standalone` };
const log = (line: string): void => void process.stderr.write(`[bench:verify ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

interface Service {
  name: string;
  child: ChildProcess;
  exited: Promise<void>;
}
const services: Service[] = [];

function start(role: 'controller' | 'extractor' | 'loader', name: string, env: Record<string, string>, nodeArgs: string[] = []): Promise<Service> {
  const child = spawn(process.execPath, serviceArgs(role, nodeArgs), {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env, P2M_SERVICE_ID: name, P2M_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const service = { name, child, exited };
  services.push(service);
  let tail = '';
  return new Promise((resolveStart, reject) => {
    const onData = (d: Buffer): void => {
      tail = (tail + d.toString()).slice(-20_000);
      if (tail.includes('service started')) resolveStart(service);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d: Buffer) => (tail = (tail + d.toString()).slice(-20_000)));
    child.once('exit', (code) => reject(new Error(`${name} exited (${code}) before it started: ${tail.slice(-800)}`)));
  });
}

async function stopAll(): Promise<void> {
  for (const s of services) {
    if (s.child.exitCode !== null) continue;
    s.child.kill('SIGTERM');
    const hard = setTimeout(() => s.child.kill('SIGKILL'), 20_000);
    await s.exited;
    clearTimeout(hard);
  }
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });
}

/** Resets VmHWM to the current RSS (Linux ≥ 4.0), so the next peak read is the peak of what follows. */
function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    for (const s of services) s.child.kill('SIGKILL');
    process.exit(130);
  });
}

const stateDir = STACK_DIR ? resolve(STACK_DIR) : STACK.stateDir!;
if (!STACK_DIR) await stackUp(STACK);
const stackEnv = readStackEnv(stateDir);
const stackPid = (name: string): number => Number(readFileSync(join(stateDir, 'pids', `${name}.pid`), 'utf8').trim());
const address = stackEnv['P2M_MILVUS_ADDRESS']!;
const emulator = await BenchEmulator.start();
const index = `bench-verify-${KIND}-${DIM}-${RECORDS}`;
const collection = `bench_verify_${Date.now().toString(36)}`;
const apiToken = randomBytes(24).toString('base64url');
const port = await freePort();
const env: Record<string, string> = {
  P2M_KAFKA_BROKERS: stackEnv['P2M_KAFKA_BROKERS']!,
  P2M_REGISTRY_URL: stackEnv['P2M_REGISTRY_URL']!,
  P2M_SECRET_KEY: randomBytes(32).toString('base64url'),
  P2M_API_TOKEN: apiToken,
  P2M_CONTROLLER_HOST: '127.0.0.1',
  P2M_CONTROLLER_PORT: String(port),
};
const url = `http://127.0.0.1:${port}`;
const api = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${apiToken}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
};

/**
 * Where the controller's memory is, in MB: RSS by kind (/proc) and Node's heap and buffers from the
 * controller's own /metrics (prom-client's default metrics, read at scrape time).
 */
async function memoryBreakdown(pid: number): Promise<Record<string, number>> {
  const { rss, ...byKind } = rssByKindMb(pid);
  const out: Record<string, number> = { rss };
  for (const [k, v] of Object.entries(byKind)) out[`rss_${k}`] = v;
  try {
    const text = await (await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${apiToken}` } })).text();
    const mb = (name: string): number | undefined => {
      const line = text.split('\n').find((l) => l.startsWith(`${name} `));
      return line ? Math.round(Number(line.split(' ')[1]) / 1048576) : undefined;
    };
    const pick: Record<string, string> = {
      heap_used: 'p2m_nodejs_heap_size_used_bytes',
      heap_total: 'p2m_nodejs_heap_size_total_bytes',
      external: 'p2m_nodejs_external_memory_bytes',
      new_space: 'p2m_nodejs_heap_space_size_total_bytes{space="new"}',
      old_space_used: 'p2m_nodejs_heap_space_size_used_bytes{space="old"}',
      large_object_space: 'p2m_nodejs_heap_space_size_total_bytes{space="large_object"}',
    };
    for (const [k, name] of Object.entries(pick)) {
      const v = mb(name);
      if (v !== undefined) out[k] = v;
    }
  } catch {
    // the breakdown is extra; RSS above is the figure
  }
  return out;
}
/** Per phase: the sample with the highest RSS, and the highest of every figure. */
class MemoryTrack {
  atPeak: Record<string, number> = {};
  max: Record<string, number> = {};
  add(sample: Record<string, number>): void {
    if ((sample['rss'] ?? 0) >= (this.atPeak['rss'] ?? 0)) this.atPeak = sample;
    for (const [k, v] of Object.entries(sample)) this.max[k] = Math.max(this.max[k] ?? 0, v);
  }
}

let jobId: string | null = null;
let warmupJob: string | null = null;
let failure: unknown = null;
try {
  log(`seeding the emulator: ${RECORDS} ${KIND} records, dim ${DIM}, ${NAMESPACES} namespaces`);
  await emulator.load(index, KIND, RECORDS, { dim: DIM, namespaces: NAMESPACES, ids: IDS });
  const controller = await start('controller', 'bench-controller', env, PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : []);
  await Promise.all([start('extractor', 'bench-extractor', env), ...Array.from({ length: LOADERS }, (_, i) => start('loader', `bench-loader-${i + 1}`, env))]);
  const pid = controller.child.pid!;
  // Cold: the controller started, no job run yet (modules loaded, nothing compiled hot).
  await new Promise((r) => setTimeout(r, 5_000));
  const cold = memoryMb(pid).rss;
  // Idle: a small job done first (so the Milvus and Pinecone clients, the planning and verification
  // code are loaded and warm), then nothing running.
  if (WARMUP > 0) {
    const warmIndex = `${index}-warmup`;
    await emulator.load(warmIndex, KIND, WARMUP, { dim: DIM, namespaces: NAMESPACES, ids: IDS });
    const warm = await api<JobView>('POST', '/v1/jobs', {
      source: { apiKey: emulator.apiKey, index: warmIndex, controllerHostUrl: emulator.controllerHostUrl },
      target: { ...TARGET, address, collection: `${collection}_warmup` },
    });
    for (let v = warm; !['SUCCESSFUL', 'FAILED', 'CANCELLED'].includes(v.status); v = await api<JobView>('GET', `/v1/jobs/${warm.id}`))
      await new Promise((r) => setTimeout(r, 1_000));
    warmupJob = warm.id;
    log(`warm-up job of ${WARMUP} records done`);
  }
  await new Promise((r) => setTimeout(r, 15_000));
  const idleSamples: number[] = [];
  for (let i = 0; i < 20; i++) {
    idleSamples.push(memoryMb(pid).rss);
    await new Promise((r) => setTimeout(r, 1_000));
  }
  const idle = Math.max(...idleSamples);
  const idleBreakdown = await memoryBreakdown(pid);
  const loadingMemory = new MemoryTrack();
  const verifyingMemory = new MemoryTrack();
  log(`controller idle: ${idle} MB; creating the job`);
  const resettable = resetPeak(pid);
  const t0 = performance.now();
  const job = await api<JobView>('POST', '/v1/jobs', {
    source: { apiKey: emulator.apiKey, index, controllerHostUrl: emulator.controllerHostUrl },
    target: { ...TARGET, address, collection },
  });
  jobId = job.id;
  let verifyingAt = 0;
  let endAt = 0;
  let peakLoad = 0;
  let peakVerify = 0;
  let cpuAtVerify = 0;
  let atReconcile = 0;
  let view = job;
  const seenPhases: string[] = [];
  // The server's CPU over the load and over each verification phase: how busy it was (its own
  // index builds included) while p2m waited or read.
  const milvusPid = stackPid('milvus');
  const milvusCpuAt: [string, number, number][] = [['loading', performance.now(), cpuSeconds(milvusPid)]];
  const deadline = Date.now() + 6 * 3_600_000;
  for (;;) {
    view = await api<JobView>('GET', `/v1/jobs/${job.id}`);
    const sample = await memoryBreakdown(pid);
    if (view.status === 'VERIFYING' && !verifyingAt) {
      verifyingAt = performance.now();
      peakLoad = memoryMb(pid).peak;
      cpuAtVerify = cpuSeconds(pid);
      resetPeak(pid);
      log(`VERIFYING after ${round2((verifyingAt - t0) / 1000)} s`);
    }
    (verifyingAt ? verifyingMemory : loadingMemory).add(sample);
    const phase = view.progress.verification?.phase;
    if (phase && seenPhases.at(-1) !== phase) {
      seenPhases.push(phase);
      milvusCpuAt.push([phase, performance.now(), cpuSeconds(milvusPid)]);
      if (phase === 'reconcile') atReconcile = sample['rss']!;
      log(`verification phase: ${phase}`);
    }
    if (['SUCCESSFUL', 'FAILED', 'CANCELLED'].includes(view.status)) {
      endAt = performance.now();
      peakVerify = memoryMb(pid).peak;
      milvusCpuAt.push(['end', endAt, cpuSeconds(milvusPid)]);
      break;
    }
    if (services.some((s) => s.child.exitCode !== null)) throw new Error('a p2m process exited during the run');
    if (Date.now() > deadline) throw new Error(`job ${job.id} still ${view.status} after 6 hours`);
    await new Promise((r) => setTimeout(r, 1_000));
  }
  const verifyCpu = cpuSeconds(pid) - cpuAtVerify;
  const report = view.report;
  const phases = Object.fromEntries((report?.phases ?? []).map((p) => [p.phase, p.seconds]));
  const loadSeconds = round2((verifyingAt - t0) / 1000);
  const reconcile = phases['reconcile'];
  const rssLoadMax = loadingMemory.max['rss'] ?? 0;
  const rssVerifyMax = verifyingMemory.max['rss'] ?? 0;
  const result = {
    bench: 'verify',
    records: RECORDS,
    dim: DIM,
    milvus: STACK_DIR ? (stackEnv['P2M_MILVUS_SERVER'] ?? 'as in the stack') : MILVUS,
    kind: KIND,
    ids: IDS ?? 'documents',
    namespaces: NAMESPACES,
    target: TARGET,
    loaders: LOADERS,
    status: view.status,
    passed: report?.passed ?? null,
    error: view.error ? `${view.error.code}: ${view.error.message}` : null,
    problems: report?.problems.slice(0, 5) ?? [],
    load_seconds: loadSeconds,
    load_records_per_s: Math.round(RECORDS / loadSeconds),
    verify_seconds: round2((endAt - verifyingAt) / 1000),
    phases_seconds: phases,
    reconcile_over_load: reconcile !== undefined ? round2(reconcile / loadSeconds) : null,
    reconciliation: report?.reconciliation ?? null,
    controller_rss_mb: {
      cold,
      idle,
      idle_min: Math.min(...idleSamples),
      at_reconcile_start: atReconcile,
      peak_loading: resettable ? peakLoad : rssLoadMax,
      peak_verifying: resettable ? peakVerify : rssVerifyMax,
      rise_verifying: (resettable ? peakVerify : rssVerifyMax) - idle,
      sampled_max_loading: rssLoadMax,
      sampled_max_verifying: rssVerifyMax,
      peak_from: resettable ? 'VmHWM, reset at job creation and at VERIFYING' : 'VmRSS sampled every second',
    },
    controller_memory_mb: {
      idle: idleBreakdown,
      loading_at_peak: loadingMemory.atPeak,
      loading_max: loadingMemory.max,
      verifying_at_peak: verifyingMemory.atPeak,
      verifying_max: verifyingMemory.max,
      sampled: 'every second: RSS by kind from /proc, heap and external memory from the controller /metrics',
    },
    controller_cpu_seconds_verifying: round2(verifyCpu),
    milvus_cpu_seconds_total: round2(cpuSeconds(milvusPid)),
    // Per stretch (the load, then each phase as the bench saw it start, polling every second): the
    // server's CPU seconds and wall seconds; cores busy = cpu / wall (2 on this machine = saturated).
    milvus_cpu_by_stretch: Object.fromEntries(
      milvusCpuAt.slice(0, -1).map(([name, at, cpu], i) => {
        const [, nextAt, nextCpu] = milvusCpuAt[i + 1]!;
        return [name, { cpu_seconds: round2(nextCpu - cpu), wall_seconds: round2((nextAt - at) / 1000) }];
      }),
    ),
    machine: { load1AtEnd: machineCpu().load1, cores: 2 },
    at: new Date().toISOString(),
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  if (OUT) writeFileSync(join(REPO_ROOT, 'bench', 'results', `${OUT}.json`), `${JSON.stringify(result, null, 2)}\n`);
} catch (err) {
  // Said here: the clean-up below may end the process (--keep-job) before a rethrow would print.
  failure = err;
  log(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
} finally {
  await stopAll();
  if (PROFILE_DIR) {
    for (const file of readdirSync(PROFILE_DIR).filter((f) => f.endsWith('.cpuprofile')))
      log(`controller profile ${file}: ${JSON.stringify(summariseProfile(join(PROFILE_DIR, file)))}`);
  }
  if (argv.includes('--keep-job')) {
    log(`kept job ${jobId} (collection ${collection}) for a closer look; nothing dropped`);
    await emulator.stop().catch(() => undefined);
    process.exit(failure === null ? 0 : 1);
  }
  const sink = createMilvusSink({ address, timeoutMs: 300_000 });
  await sink.dropCollection(collection).catch(() => undefined);
  await sink.dropCollection(`${collection}_warmup`).catch(() => undefined);
  await sink.close();
  if (jobId) {
    const kafka = createKafka({ brokers: env['P2M_KAFKA_BROKERS']!.split(','), clientId: 'p2m-bench', logger: createLogger('bench', { level: 'error' }) });
    const admin = kafka.admin();
    for (const id of [jobId, warmupJob]) if (id) for (const topic of [recordsTopic(id), dlqTopic(id)]) await admin.deleteTopic(topic).catch(() => undefined);
    await admin.close();
    await kafka.close().catch(() => undefined);
  }
  await emulator.stop().catch(() => undefined);
  if (!STACK_DIR && !argv.includes('--keep-stack')) await stackDown(STACK).catch(() => undefined);
}
process.exit(failure === null ? 0 : 1);
