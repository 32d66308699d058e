/**
 * Many small namespaces (one per tenant, the common serverless layout): `npm run bench:namespaces --
 * [--namespaces 20000] [--per-namespace 2] [--loaders 2] [--phase extract|pipeline|both]
 * [--verify-timeout-s 1800] [--ports kafka=N,kafkaController=N,registry=N,milvus=N] [--keep-stack]
 * [--profile] [--out FILE]`. `--profile`: a `--cpu-prof` of the extractor in the extract phase, summarised.
 *
 * The emulator (child process, Pinecone's rate limits, 20–40 ms per list and fetch) holds an index
 * of `namespaces` × `per-namespace` records (dim 8). `extract`: the extractor service alone, from
 * job creation until every namespace's checkpoint says done. `pipeline`: the extractor, N loader
 * processes and a controller (in this process) from job creation to the job's end, with the time
 * until every record was loaded and the verification's own time. Figures in seconds per 1,000
 * namespaces; one JSON line per phase on stdout (and the whole run in `--out`).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { avroStateCodec } from '@p2m/codec';
import {
  createLogger,
  generateSecretKey,
  isRetriable,
  JobBoard,
  loaderGroup,
  readConfig,
  recordsTopic,
  RuntimeConfigSchema,
  TERMINAL_STATUSES,
  type LogClient,
} from '@p2m/core';
import { createKafka } from '@p2m/kafka';
import { createMilvusSink } from '@p2m/milvus-sink';
import { readStackEnv, stackDown, stackUp, type StackOptionsInput } from '@p2m/stack';
import { startRuntime, type Runtime } from '@p2m/cli';
import { cancelAndSettle } from './lib/jobs.ts';
import { runningServices, startService, stopService, summariseProfile, type Service } from './lib/pipeline-bench.ts';
import { CpuMeter, machineCpu, memoryMb, round2 } from './lib/proc.ts';
import { BENCH_STACK } from './lib/stack.ts';

const argv = process.argv.slice(2);
const opt = (name: string): string | undefined => (argv.includes(`--${name}`) ? argv[argv.indexOf(`--${name}`) + 1] : undefined);
const NAMESPACES = Number(opt('namespaces') ?? 20_000);
const PER_NAMESPACE = Number(opt('per-namespace') ?? 2);
const LOADERS = Number(opt('loaders') ?? 2);
const PHASE = opt('phase') ?? 'both';
const VERIFY_TIMEOUT_S = Number(opt('verify-timeout-s') ?? 1800);
const PROFILE = argv.includes('--profile');
const DIM = 8;
const RECORDS = NAMESPACES * PER_NAMESPACE;
const log = (line: string): void => void process.stderr.write(`[bench:namespaces ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

// Its own state dir, and ports that can be moved off another bench or test stack on a shared machine.
const ports = {
  ...BENCH_STACK.ports,
  ...Object.fromEntries(
    (opt('ports') ?? '')
      .split(',')
      .filter(Boolean)
      .map((kv) => [kv.split('=')[0]!, Number(kv.split('=')[1])]),
  ),
};
const STACK: StackOptionsInput = { ...BENCH_STACK, stateDir: resolve(import.meta.dirname, '..', '.p2m-bench', 'namespaces'), ports };

interface Emulator {
  child: ChildProcess;
  controllerHostUrl: string;
  apiKey: string;
}

function next<T>(child: ChildProcess, cmd: string): Promise<T> {
  return new Promise((res, rej) => {
    const onMessage = (m: { cmd: string; message?: string }): void => {
      if (m.cmd === cmd) {
        child.off('message', onMessage);
        res(m as T);
      } else if (m.cmd === 'error') {
        child.off('message', onMessage);
        rej(new Error(`emulator: ${m.message}`));
      }
    };
    child.on('message', onMessage);
  });
}

async function startEmulatorChild(): Promise<Emulator> {
  const child = fork(join(import.meta.dirname, 'lib', 'namespaces-emulator-child.ts'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const ready = await next<{ controllerHostUrl: string; apiKey: string }>(child, 'ready');
  return { child, ...ready };
}

const per1000 = (seconds: number): number => round2(seconds / (NAMESPACES / 1000));

interface Context {
  env: Record<string, string>;
  kafka: LogClient;
  emulator: Emulator;
  index: string;
  address: string;
  controller: () => Promise<Runtime>;
  pids: Record<string, number>;
}

async function createJob(ctx: Context, runtime: Runtime, collection: string): Promise<{ id: string; planSeconds: number }> {
  const t0 = performance.now();
  const job = await runtime.jobs!.create({
    source: { apiKey: ctx.emulator.apiKey, index: ctx.index, controllerHostUrl: ctx.emulator.controllerHostUrl },
    target: { address: ctx.address, collection },
  });
  return { id: job.id, planSeconds: round2((performance.now() - t0) / 1000) };
}

/**
 * Cancel (no later worker picks it up) and drop its collection. Its topics stay (a few MB): a
 * controller that later asks about a job whose topic was deleted gets its KafkaJS admin stuck on
 * "This server does not host this topic-partition" for every request (seen here), and fails
 * active jobs as if Kafka were down.
 */
async function cleanUp(ctx: Context, jobId: string | null, collection: string): Promise<void> {
  if (jobId) {
    const after = await ctx.controller();
    try {
      await cancelAndSettle(after, [jobId]);
    } finally {
      await after.stop();
    }
  }
  const sink = createMilvusSink({ address: ctx.address, timeoutMs: 300_000 });
  await sink.dropCollection(collection).catch(() => undefined);
  await sink.close();
}

async function topicMessages(kafka: LogClient, jobId: string): Promise<number> {
  const admin = kafka.admin();
  try {
    return (await admin.topicOffsets(recordsTopic(jobId))).reduce((sum, o) => sum + Number(o.high) - Number(o.low), 0);
  } finally {
    await admin.close();
  }
}

/** The extractor service alone: job creation → every namespace's checkpoint done. */
async function measureExtraction(ctx: Context): Promise<Record<string, unknown>> {
  const collection = `bench_ns_x_${Date.now().toString(36)}`;
  const services: Service[] = [];
  let jobId: string | null = null;
  const board = new JobBoard(ctx.kafka, avroStateCodec);
  try {
    await board.start();
    const profileDir = PROFILE ? join(STACK.stateDir!, 'profiles', collection) : undefined;
    if (profileDir) mkdirSync(profileDir, { recursive: true });
    services.push(await startService('extractor', 'bench-ns-extractor', ctx.env, profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []));
    const spawned = performance.now();
    const extractor = services[0]!;
    const meter = new CpuMeter({ ...ctx.pids, extractor: extractor.child.pid! }).start();
    const machine0 = machineCpu();
    const t0 = performance.now();
    const runtime = await ctx.controller();
    let planSeconds: number;
    try {
      ({ id: jobId, planSeconds } = await createJob(ctx, runtime, collection));
    } finally {
      // Workers need only the board: a controller left running would only add its ticks' CPU here.
      await runtime.stop();
    }
    const created = performance.now();
    const id = jobId;
    const deadline = Date.now() + 3_600_000;
    for (;;) {
      const done = [...(board.checkpoints.get(id)?.values() ?? [])].filter((cp) => cp.done).length;
      if (done >= NAMESPACES) break;
      if (extractor.child.exitCode !== null) throw new Error('the extractor exited during the run');
      if (Date.now() > deadline) throw new Error(`extraction still running after an hour: ${done} of ${NAMESPACES} namespaces done`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const extracted = performance.now();
    const cpu = meter.stop();
    const machine1 = machineCpu();
    const messages = await topicMessages(ctx.kafka, id);
    const extractSeconds = (extracted - created) / 1000;
    const peakRssMb = memoryMb(extractor.child.pid!).peak;
    let profile: Record<string, number> | undefined;
    if (profileDir) {
      await stopService(extractor); // the profile is written on exit
      const file = readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile'));
      if (file) profile = summariseProfile(join(profileDir, file), t0 - spawned);
    }
    return {
      phase: 'extract',
      namespaces: NAMESPACES,
      records: RECORDS,
      plan_seconds: planSeconds,
      extract_seconds: round2(extractSeconds),
      extract_seconds_per_1000_namespaces: per1000(extractSeconds),
      extract_ms_per_namespace: round2((extractSeconds * 1000) / NAMESPACES),
      total_seconds_per_1000_namespaces: per1000((extracted - t0) / 1000),
      topic_messages: messages,
      end_markers: messages - RECORDS,
      cpu_seconds: cpu,
      extractor_peak_rss_mb: peakRssMb,
      ...(profile ? { extractor_profile_percent: profile } : {}),
      machine: { busyCpuSeconds: round2(machine1.busySeconds - machine0.busySeconds), load1AtStart: machine0.load1, load1AtEnd: machine1.load1 },
    };
  } finally {
    for (const s of services) await stopService(s).catch(() => undefined);
    await board.stop().catch(() => undefined);
    await cleanUp(ctx, jobId, collection);
  }
}

/** Extractor + loaders + controller: job creation → loaded → the job's end (verification included). */
async function measurePipeline(ctx: Context): Promise<Record<string, unknown>> {
  const collection = `bench_ns_p_${Date.now().toString(36)}`;
  const services: Service[] = [];
  let jobId: string | null = null;
  let runtime: Runtime | null = null;
  try {
    services.push(
      ...(await Promise.all([
        startService('extractor', 'bench-ns-extractor', ctx.env),
        ...Array.from({ length: LOADERS }, (_, i) => startService('loader', `bench-ns-loader-${i + 1}`, ctx.env)),
      ])),
    );
    const pids: Record<string, number> = { ...ctx.pids, controller: process.pid };
    services.forEach((s) => (pids[s.name] = s.child.pid!));
    const meter = new CpuMeter(pids).start();
    const machine0 = machineCpu();
    runtime = await ctx.controller();
    const t0 = performance.now();
    const created = await createJob(ctx, runtime, collection);
    jobId = created.id;
    const admin = ctx.kafka.admin();
    let loadedAt = 0;
    let verifyingAt = 0;
    let endedAt = 0;
    let view = await runtime.jobs!.get(jobId);
    const deadline = Date.now() + 3_600_000;
    try {
      for (;;) {
        const now = performance.now();
        if (!loadedAt) {
          // A topic created a moment ago may not be known to every metadata request yet: ask again.
          const committed = await admin.groupOffsets(loaderGroup(jobId), recordsTopic(jobId)).catch((err: unknown) => {
            if (isRetriable(err)) return [];
            throw err;
          });
          const loaded = committed.reduce((sum, o) => {
            const counts = o.metadata ? (JSON.parse(o.metadata) as { l?: number; d?: number }) : {};
            return sum + (counts.l ?? 0) + (counts.d ?? 0);
          }, 0);
          if (loaded >= RECORDS) loadedAt = now;
        }
        view = await runtime.jobs!.get(jobId);
        if (!verifyingAt && (view.status === 'VERIFYING' || TERMINAL_STATUSES.has(view.status))) verifyingAt = now;
        if (TERMINAL_STATUSES.has(view.status)) {
          endedAt = now;
          break;
        }
        if (verifyingAt && now - verifyingAt > VERIFY_TIMEOUT_S * 1000) break;
        if (services.some((s) => s.child.exitCode !== null)) throw new Error('a pipeline process exited during the run');
        if (Date.now() > deadline) throw new Error(`job still ${view.status} after an hour`);
        await new Promise((r) => setTimeout(r, 500));
      }
    } finally {
      await admin.close();
    }
    const cpu = meter.stop();
    const machine1 = machineCpu();
    const secs = (at: number): number | null => (at ? round2((at - t0) / 1000) : null);
    return {
      phase: 'pipeline',
      namespaces: NAMESPACES,
      records: RECORDS,
      loaders: LOADERS,
      status: view.status,
      error: view.error?.message.slice(0, 300) ?? null,
      verification_passed: view.report?.passed ?? null,
      plan_seconds: created.planSeconds,
      loaded_seconds: secs(loadedAt),
      loaded_seconds_per_1000_namespaces: loadedAt ? per1000((loadedAt - t0) / 1000) : null,
      verifying_at_seconds: secs(verifyingAt),
      end_seconds: secs(endedAt),
      verify_seconds: endedAt && verifyingAt ? round2((endedAt - verifyingAt) / 1000) : null,
      verify_timed_out: !endedAt,
      end_to_end_seconds_per_1000_namespaces: endedAt ? per1000((endedAt - t0) / 1000) : null,
      cpu_seconds: cpu,
      machine: { busyCpuSeconds: round2(machine1.busySeconds - machine0.busySeconds), load1AtStart: machine0.load1, load1AtEnd: machine1.load1 },
    };
  } finally {
    await runtime?.stop();
    for (const s of services) await stopService(s).catch(() => undefined);
    await cleanUp(ctx, jobId, collection);
  }
}

await stackUp(STACK);
const stackEnv = readStackEnv(STACK.stateDir!);
const emulator = await startEmulatorChild();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    for (const child of runningServices) child.kill('SIGKILL');
    emulator.child.kill('SIGKILL');
    process.exit(130);
  });
}
const env: Record<string, string> = {
  P2M_KAFKA_BROKERS: stackEnv['P2M_KAFKA_BROKERS']!,
  P2M_REGISTRY_URL: stackEnv['P2M_REGISTRY_URL']!,
  P2M_SECRET_KEY: generateSecretKey(),
  P2M_SINK_DEADLINE_MS: '120000',
};
const kafka = createKafka({ brokers: env['P2M_KAFKA_BROKERS']!.split(','), clientId: 'p2m-bench-ns', logger: createLogger('bench', { level: 'error' }) });
const results: Record<string, unknown>[] = [];
try {
  const index = `bench-ns-${NAMESPACES}`;
  log(`seeding the emulator: ${NAMESPACES} namespaces × ${PER_NAMESPACE} records`);
  emulator.child.send({ cmd: 'load', index, namespaces: NAMESPACES, perNamespace: PER_NAMESPACE, dim: DIM });
  await next(emulator.child, 'loaded');
  const stackPid = (name: string): number => {
    try {
      return Number(readFileSync(join(STACK.stateDir!, 'pids', `${name}.pid`), 'utf8').trim());
    } catch {
      return 0;
    }
  };
  const ctx: Context = {
    env,
    kafka,
    emulator,
    index,
    address: stackEnv['P2M_MILVUS_ADDRESS']!,
    controller: () => startRuntime(readConfig(RuntimeConfigSchema, { ...env, P2M_LOG_LEVEL: 'error' }), { controller: {} }),
    pids: Object.fromEntries(
      [['emulator', emulator.child.pid!] as const, ...['kafka', 'registry', 'milvus'].map((n) => [n, stackPid(n)] as const)].filter(([, pid]) => pid > 0),
    ),
  };
  // Creates the state topics on a fresh stack, and cancels jobs an interrupted run left active
  // (this run's services would pick them up).
  const board = await ctx.controller();
  await cancelAndSettle(board);
  await board.stop();
  for (const phase of PHASE === 'both' ? ['extract', 'pipeline'] : [PHASE]) {
    log(`${phase}: ${NAMESPACES} namespaces`);
    const result = phase === 'extract' ? await measureExtraction(ctx) : await measurePipeline(ctx);
    results.push(result);
    process.stdout.write(`${JSON.stringify(result)}\n`);
  }
  const out = opt('out');
  if (out)
    writeFileSync(
      out,
      `${JSON.stringify({ namespaces: NAMESPACES, perNamespace: PER_NAMESPACE, dim: DIM, emulator: '20–40 ms per list and fetch, list 200/s, fetch 100/s', results }, null, 2)}\n`,
    );
} finally {
  await kafka.close().catch(() => undefined);
  emulator.child.send({ cmd: 'stop' });
  if (!argv.includes('--keep-stack')) await stackDown(STACK).catch((err: unknown) => log(`stopping the stack failed: ${String(err)}`));
}
process.exit(0);
