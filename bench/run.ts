/**
 * p2m benchmark: `npm run bench` (100,000 × 768-d, plus the 1,000,000-record memory run) or
 * `npm run bench -- --quick` (20,000 records, a few minutes). Writes bench/results/latest.json and
 * bench/results/latest.md.
 *
 * Everything runs against a stack of its own (`.p2m-bench/`, ports 29092/28081/29530: see
 * lib/stack.ts) and the emulator in a child process with Pinecone's rate limits and an injected
 * per-call latency. Figures are ratios of measurements taken side by side in one run: absolute
 * rates on a shared machine are noise, the ratios are what carries over.
 *
 * Options: --quick, --records N, --hybrid-records N, --sink-rows N, --no-1m, --keep-stack,
 * --writer grpc|sdk (the loaders' Milvus write path), --job-options JSON, --out NAME (results file name).
 */
import { cpus, freemem, loadavg, totalmem, type as osType, release } from 'node:os';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { milvusLiteVersion } from '@p2m/stack';
import { benchPlan, DIM, NAMESPACES, SPARSE_NON_ZEROS, vectorRecords, type DatasetKind } from './lib/dataset.ts';
import { LATENCY_TEXT } from './lib/emulator-child.ts';
import { measurePipeline, p2mCpuMsPerRecord, profileSummary, type PipelineRun, type PipelineSetup } from './lib/pipeline-bench.ts';
import { round2 } from './lib/proc.ts';
import { measureNodeSdk, measurePymilvus, measureWriter, type SinkRun } from './lib/sink-bench.ts';
import { measureDirectCopy, measureSourceCeiling, type SourceRun } from './lib/source-bench.ts';
import { startBench } from './lib/setup.ts';
import { BENCH_STACK } from './lib/stack.ts';

const argv = process.argv.slice(2);
const flag = (name: string): boolean => argv.includes(`--${name}`);
const num = (name: string, dflt: number): number => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : dflt;
};
const QUICK = flag('quick');
const RECORDS = num('records', QUICK ? 20_000 : 100_000);
// As many hybrid records as dense ones: CPU per record compares only at equal sizes (a run's fixed
// costs, and those that grow with its duration, weigh twice as much on half the records).
const HYBRID_RECORDS = num('hybrid-records', RECORDS);
const SINK_ROWS = num('sink-rows', QUICK ? 10_000 : 30_000);
const MILLION = !QUICK && !flag('no-1m');
const SDK_BATCHES = QUICK ? [250, 1000, 2000] : [100, 500, 1000, 2000, 5000];
const PY_BATCHES = QUICK ? [1000, 4000] : [1000, 4000];
/** Rows per request of p2m's writer alone: about what the loader sends (16 MB batches of 768-d rows). */
const WRITER_BATCH = 4000;
const DIRECT_COPY_ROWS = QUICK ? 4_000 : 10_000;
const LOADER_COUNTS = [1, 2, 4];
const RESULTS_DIR = join(import.meta.dirname, 'results');
const PIPELINE_WRITER = argv.includes('--writer') ? argv[argv.indexOf('--writer') + 1]! : 'grpc';
/** Job options for the pipeline runs, as JSON (e.g. '{"topicPartitions":12}'); the job defaults otherwise. */
const JOB_OPTIONS = argv.includes('--job-options') ? (JSON.parse(argv[argv.indexOf('--job-options') + 1]!) as Record<string, unknown>) : undefined;
const OUT_NAME = argv.includes('--out') ? argv[argv.indexOf('--out') + 1]! : 'latest';
const PYTHON = join(process.env.P2M_CACHE_DIR || join(process.env.HOME ?? '/root', '.cache', 'p2m'), `milvus-lite-${milvusLiteVersion()}`, 'bin', 'python3');

const log = (line: string): void => void process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
const best = (runs: { rowsPerSec: number }[]): number => Math.max(...runs.map((r) => r.rowsPerSec));
const ratio = (a: number, b: number): number => Math.round((a / b) * 100) / 100;

interface VariantResult {
  records: number;
  sink_rows: number;
  node_sdk_rows_per_s: number;
  node_sdk_best_batch: number;
  pymilvus_rows_per_s: number;
  writer_rows_per_s: number;
  writer_sdk_fallback_rows_per_s: number;
  sink_ceiling_rows_per_s: number;
  source_ceiling_rows_per_s: number;
  direct_copy_rows_per_s: number;
  pipeline_rows_per_s: Record<string, number>;
  best_pipeline_rows_per_s: number;
  ratio_vs_limit: number;
  ratio_vs_direct_copy: number;
  ratio_vs_node_sdk: number;
  [other: string]: unknown;
}

interface Details {
  sdkSweep: SinkRun[];
  pymilvus: SinkRun[];
  writers: SinkRun[];
  source: SourceRun;
  directCopy: SourceRun;
  pipeline: PipelineRun[];
}

/**
 * Each way of writing, twice, interleaved (the second round only at the first round's best batch
 * size): the machine is shared, and the better of two runs is the less disturbed one.
 */
async function measureSinks(kind: DatasetKind, address: string, milvusPid: number, rows: number): Promise<Pick<Details, 'sdkSweep' | 'pymilvus' | 'writers'>> {
  const records = vectorRecords(kind, rows);
  const writers: SinkRun[] = [];
  const sdkSweep: SinkRun[] = [];
  const pymilvus: SinkRun[] = [];
  const bestBatch = (runs: SinkRun[]): number => [...runs].sort((a, b) => b.rowsPerSec - a.rowsPerSec)[0]!.batch;
  for (const round of [1, 2]) {
    log(`${kind} round ${round}: p2m writer (gRPC column-wise), ${rows} rows`);
    writers.push(await measureWriter(address, kind, records, WRITER_BATCH, milvusPid, 'grpc'));
    for (const batch of round === 1 ? (kind === 'dense' ? SDK_BATCHES : [1000]) : [bestBatch(sdkSweep)]) {
      log(`${kind} round ${round}: official Node SDK row upsert, batch ${batch}`);
      sdkSweep.push(await measureNodeSdk(address, kind, records, batch, milvusPid));
    }
    log(`${kind} round ${round}: pymilvus + numpy`);
    pymilvus.push(
      ...(await measurePymilvus(
        address,
        kind,
        records,
        round === 1 ? (kind === 'dense' ? PY_BATCHES : [PY_BATCHES[0]!]) : [bestBatch(pymilvus)],
        milvusPid,
        PYTHON,
      )),
    );
    log(`${kind} round ${round}: p2m writer, SDK fallback (P2M_MILVUS_WRITER=sdk)`);
    writers.push(await measureWriter(address, kind, records, WRITER_BATCH, milvusPid, 'sdk'));
  }
  return { sdkSweep, pymilvus, writers };
}

async function pipelineRun(
  setup: PipelineSetup,
  kind: DatasetKind,
  loaders: number,
  records: number,
  profileDir?: string,
  writer?: string,
): Promise<PipelineRun> {
  const collection = `bench_pipe_${kind}_${loaders}_${Date.now().toString(36)}`;
  log(
    `${kind}: pipeline with ${loaders} loader process(es), ${records} records${profileDir ? ' (loader CPU profile)' : ''}${writer ? `, loaders writing through the ${writer} path` : ''}`,
  );
  const run = await measurePipeline(setup, loaders, records, {
    collection,
    kind,
    ...(profileDir ? { profileDir } : {}),
    ...(writer ? { env: { P2M_MILVUS_WRITER: writer } } : {}),
  });
  log(`${kind}: ${loaders} loader(s): ${run.rowsPerSec} rows/s (in the topic after ${run.extractSeconds} s, loaded after ${run.seconds} s)`);
  return run;
}

function variant(kind: DatasetKind, records: number, sinkRows: number, d: Details): VariantResult {
  const nodeSdk = best(d.sdkSweep);
  const grpcRuns = d.writers.filter((w) => w.method === 'writer_grpc');
  const writer = best(grpcRuns);
  const pymilvus = best(d.pymilvus);
  const sinkCeiling = Math.max(nodeSdk, pymilvus, writer);
  const pipeline = Object.fromEntries(d.pipeline.filter((p) => !p.cpuProfile && p.writer === PIPELINE_WRITER).map((p) => [String(p.loaders), p.rowsPerSec]));
  const other = d.pipeline.find((p) => p.writer !== PIPELINE_WRITER);
  const bestPipeline = Math.max(...Object.values(pipeline));
  // The pipeline runs every component at once on the machine's cores; the ceilings above each had
  // the machine to themselves. CPU per record of the best run gives the limit of this machine.
  const bestRun = d.pipeline.find((p) => !p.cpuProfile && p.writer === PIPELINE_WRITER && p.rowsPerSec === bestPipeline)!;
  const msPerRow = (bestRun.machine.ownCpuSeconds * 1000) / bestRun.records;
  const cpuLimit = Math.round((cpus().length * 1000) / msPerRow);
  // Stored, not just acknowledged: every write path followed by a flush (see sink-bench.ts).
  const durable = (runs: { durableRowsPerSec?: number | undefined }[]): number => Math.max(...runs.map((r) => r.durableRowsPerSec ?? 0));
  const pipelineDurable = durable(d.pipeline.filter((p) => !p.cpuProfile && p.writer === PIPELINE_WRITER));
  const nodeSdkDurable = durable(d.sdkSweep);
  const sinkCeilingDurable = Math.max(nodeSdkDurable, durable(d.pymilvus), durable(grpcRuns));
  return {
    records,
    sink_rows: sinkRows,
    node_sdk_rows_per_s: nodeSdk,
    node_sdk_best_batch: d.sdkSweep.find((r) => r.rowsPerSec === nodeSdk)!.batch,
    pymilvus_rows_per_s: pymilvus,
    writer_rows_per_s: writer,
    writer_sdk_fallback_rows_per_s: best(d.writers.filter((w) => w.method === 'writer_sdk')),
    sink_ceiling_rows_per_s: sinkCeiling,
    source_ceiling_rows_per_s: d.source.rowsPerSec,
    direct_copy_rows_per_s: d.directCopy.rowsPerSec,
    pipeline_rows_per_s: pipeline,
    best_pipeline_rows_per_s: bestPipeline,
    ...(other ? { [`pipeline_${other.writer}_writer_rows_per_s`]: other.rowsPerSec, [`pipeline_${other.writer}_writer_loaders`]: other.loaders } : {}),
    ratio_vs_limit: ratio(bestPipeline, Math.min(sinkCeiling, d.source.rowsPerSec)),
    ratio_vs_direct_copy: ratio(bestPipeline, d.directCopy.rowsPerSec),
    ratio_vs_node_sdk: ratio(bestPipeline, nodeSdk),
    node_sdk_durable_rows_per_s: nodeSdkDurable,
    pymilvus_durable_rows_per_s: durable(d.pymilvus),
    writer_durable_rows_per_s: durable(grpcRuns),
    sink_ceiling_durable_rows_per_s: sinkCeilingDurable,
    direct_copy_durable_rows_per_s: d.directCopy.durableRowsPerSec ?? 0,
    best_pipeline_durable_rows_per_s: pipelineDurable,
    ratio_vs_limit_durable: ratio(pipelineDurable, Math.min(sinkCeilingDurable, d.source.rowsPerSec)),
    ratio_vs_direct_copy_durable: ratio(pipelineDurable, d.directCopy.durableRowsPerSec ?? 0),
    ratio_vs_node_sdk_durable: ratio(pipelineDurable, nodeSdkDurable),
    pipeline_cpu_ms_per_row: Math.round(msPerRow * 1000) / 1000,
    machine_cpu_limit_rows_per_s: cpuLimit,
    ratio_vs_machine_cpu_limit: ratio(bestPipeline, cpuLimit),
    // p2m's own share of that CPU, from the same run: what p2m's code can change.
    p2m_cpu_ms_per_record: p2mCpuMsPerRecord(bestRun),
  };
}

/** CPU seconds per process over a pipeline run, as shares of the total. */
function cpuShares(run: PipelineRun): Record<string, { seconds: number; share: number }> {
  const groups: Record<string, number> = {};
  for (const [name, s] of Object.entries(run.cpuSeconds)) {
    const key = name.startsWith('loader')
      ? 'loaders (p2m)'
      : name === 'extractor'
        ? 'extractor (p2m)'
        : name === 'controller'
          ? 'controller + bench (p2m)'
          : name === 'milvus'
            ? 'Milvus server (Lite)'
            : name === 'kafka'
              ? 'Kafka broker'
              : name === 'registry'
                ? 'schema registry'
                : name === 'emulator'
                  ? 'Pinecone emulator'
                  : name;
    groups[key] = (groups[key] ?? 0) + s;
  }
  const total = Object.values(groups).reduce((a, b) => a + b, 0);
  return Object.fromEntries(
    Object.entries(groups)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => [k, { seconds: round2(v), share: Math.round((v / total) * 1000) / 10 }]),
  );
}

function markdown(
  out: Record<string, unknown>,
  dense: VariantResult,
  hybrid: VariantResult | null,
  rss: Record<string, Record<string, number>>,
  cpu: Record<string, { seconds: number; share: number }>,
  profile: Record<string, Record<string, number>> | null,
  machineShare: { busy: number; own: number },
): string {
  const m = out['machine'] as { cpus: number; cpuModel: string; memoryGb: number; node: string; loadAverageAtStart: number[] };
  const row = (label: string, f: (v: VariantResult) => string): string => `| ${label} | ${f(dense)} |${hybrid ? ` ${f(hybrid)} |` : ''}`;
  const n = (x: number): string => x.toLocaleString('en-US');
  const pipe = (v: VariantResult): string =>
    Object.entries(v.pipeline_rows_per_s)
      .map(([k, r]) => `${k}: ${n(r)}`)
      .join(' · ');
  const lines = [
    `Machine: ${m.cpus} × ${m.cpuModel}, ${m.memoryGb} GB RAM, Node ${m.node}, load average at start ${m.loadAverageAtStart.join(' / ')} (shared machine). Milvus Lite ${milvusLiteVersion()}; Kafka 3.9 (KRaft) + Apicurio registry on the same machine.`,
    `Dataset: ${DIM}-d float32 dense${hybrid ? ` (and hybrid: + ${SPARSE_NON_ZEROS} sparse non-zeros)` : ''}, ${NAMESPACES} namespaces, chunked-document metadata. Source: the emulator, ${LATENCY_TEXT}. Mode: ${QUICK ? 'quick' : 'full'}, ${out['generatedAt'] as string}.`,
    '',
    `| rows/s unless noted | dense (${n(dense.records)} records) |${hybrid ? ` hybrid (${n(hybrid.records)} records) |` : ''}`,
    `|---|---|${hybrid ? '---|' : ''}`,
    row('official Node SDK row upsert (best batch)', (v) => `${n(v.node_sdk_rows_per_s)} (batch ${v.node_sdk_best_batch})`),
    row('pymilvus + numpy', (v) => n(v.pymilvus_rows_per_s)),
    row('p2m writer alone (gRPC, column-wise)', (v) => n(v.writer_rows_per_s)),
    row('p2m writer, SDK fallback', (v) => n(v.writer_sdk_fallback_rows_per_s)),
    row('**sink ceiling** (best of the three)', (v) => `**${n(v.sink_ceiling_rows_per_s)}**`),
    row('**source ceiling** (list + fetch within rate limits)', (v) => `**${n(v.source_ceiling_rows_per_s)}**`),
    row('direct copy (list → fetch → SDK upsert, page by page)', (v) => n(v.direct_copy_rows_per_s)),
    row('p2m pipeline by loader processes', pipe),
    row('p2m pipeline, loaders on the SDK write path (before)', (v) =>
      v['pipeline_sdk_writer_rows_per_s']
        ? `${n(v['pipeline_sdk_writer_rows_per_s'] as number)} (${v['pipeline_sdk_writer_loaders'] as number} loader${v['pipeline_sdk_writer_loaders'] === 1 ? '' : 's'})`
        : '—',
    ),
    row('**ratio vs limit** (best pipeline / min(sink, source))', (v) => `**${v.ratio_vs_limit}**`),
    row('pipeline CPU per record, all processes (ms)', (v) => String(v['pipeline_cpu_ms_per_row'])),
    row(`machine CPU limit (${m.cpus} cores / CPU per record)`, (v) => n(v['machine_cpu_limit_rows_per_s'] as number)),
    row('ratio vs machine CPU limit', (v) => String(v['ratio_vs_machine_cpu_limit'])),
    row('p2m CPU per record (ms): extractor / loaders / controller / total', (v) => {
      const c = v['p2m_cpu_ms_per_record'] as ReturnType<typeof p2mCpuMsPerRecord>;
      return `${c.extractor} / ${c.loader} / ${c.controller} / ${c.total}`;
    }),
    row('ratio vs direct copy', (v) => String(v.ratio_vs_direct_copy)),
    row('ratio vs Node SDK', (v) => String(v.ratio_vs_node_sdk)),
    '',
    `| rows stored (writes + a flush at the end), rows/s | dense |${hybrid ? ' hybrid |' : ''}`,
    `|---|---|${hybrid ? '---|' : ''}`,
    row('official Node SDK row upsert + flush', (v) => n(v['node_sdk_durable_rows_per_s'] as number)),
    row('pymilvus + numpy + flush', (v) => n(v['pymilvus_durable_rows_per_s'] as number)),
    row('p2m writer alone + flush', (v) => n(v['writer_durable_rows_per_s'] as number)),
    row('**sink ceiling, stored**', (v) => `**${n(v['sink_ceiling_durable_rows_per_s'] as number)}**`),
    row('direct copy + flush', (v) => n(v['direct_copy_durable_rows_per_s'] as number)),
    row('p2m pipeline (best) + flush', (v) => n(v['best_pipeline_durable_rows_per_s'] as number)),
    row('**ratio vs limit, stored**', (v) => `**${v['ratio_vs_limit_durable'] as number}**`),
    row('ratio vs direct copy, stored', (v) => String(v['ratio_vs_direct_copy_durable'])),
    row('ratio vs Node SDK, stored', (v) => String(v['ratio_vs_node_sdk_durable'])),
    '',
    '| peak RSS (VmHWM), MB | ' +
      Object.keys(rss)
        .map((k) => `${n(Number(k))} records`)
        .join(' | ') +
      ' |',
    '|---|' +
      Object.keys(rss)
        .map(() => '---|')
        .join(''),
    '| extractor | ' +
      Object.values(rss)
        .map((r) => String(r['extractor']))
        .join(' | ') +
      ' |',
    '| loader (largest) | ' +
      Object.values(rss)
        .map((r) => String(r['loader']))
        .join(' | ') +
      ' |',
    '| loader on the SDK write path (before) | ' +
      Object.values(rss)
        .map((r) => String(r['loader_sdk_writer'] ?? '—'))
        .join(' | ') +
      ' |',
    '',
    `| where the CPU goes (dense pipeline, 2 loaders; the machine was busy ${machineShare.busy} CPU s, the pipeline's processes used ${machineShare.own}) | CPU s | share |`,
    '|---|---|---|',
    ...Object.entries(cpu).map(([k, v]) => `| ${k} | ${v.seconds} | ${v.share} % |`),
  ];
  for (const [who, shares] of Object.entries(profile ?? {})) {
    lines.push('', `| inside the ${who} (--cpu-prof, self time) | share |`, '|---|---|', ...Object.entries(shares).map(([k, v]) => `| ${k} | ${v} % |`));
  }
  return `${lines.join('\n')}\n`;
}

async function main(): Promise<void> {
  const started = performance.now();
  const machine = {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    memoryGb: Math.round(totalmem() / 2 ** 30),
    freeMemoryGbAtStart: Math.round(freemem() / 2 ** 30),
    node: process.version,
    os: `${osType()} ${release()}`,
    loadAverageAtStart: loadavg().map((x) => Math.round(x * 100) / 100),
  };
  log(
    `mode ${QUICK ? 'quick' : 'full'}: ${RECORDS} dense records, ${HYBRID_RECORDS} hybrid, ${SINK_ROWS} rows per sink measurement; starting the bench stack in ${BENCH_STACK.stateDir}`,
  );
  const bench = await startBench({ writer: PIPELINE_WRITER, jobOptions: JOB_OPTIONS });
  const { address, pids, emulator, kafka, base } = bench;
  try {
    const out: Record<string, unknown> = { generatedAt: new Date().toISOString(), mode: QUICK ? 'quick' : 'full', machine };
    const results: Record<string, unknown> = {};
    const details: Record<string, Details> = {};
    const kinds: [DatasetKind, number][] = [
      ['dense', RECORDS],
      ['hybrid', HYBRID_RECORDS],
    ];
    const rss: Record<string, Record<string, number>> = {};
    let cpu: Record<string, { seconds: number; share: number }> = {};
    let profile: Record<string, Record<string, number>> | null = null;
    const variants: Partial<Record<DatasetKind, VariantResult>> = {};

    /** Writes what is measured so far (after each dataset), so an interrupted full run keeps its figures. */
    const save = (final: boolean): void => {
      const dense = variants.dense!;
      Object.assign(results, {
        // The headline figures (dense) at the top of `results`, as the README table shows them.
        ...dense,
        peak_rss_mb: rss,
        cpu_by_process: cpu,
        loader_profile: profile,
        latency_profile: LATENCY_TEXT,
      });
      out['complete'] = final;
      out['config'] = {
        dim: DIM,
        namespaces: NAMESPACES,
        sparseNonZeros: SPARSE_NON_ZEROS,
        records: RECORDS,
        hybridRecords: HYBRID_RECORDS,
        sinkRows: SINK_ROWS,
        sdkBatches: SDK_BATCHES,
        pymilvusBatches: PY_BATCHES,
        writerBatch: WRITER_BATCH,
        directCopyRows: DIRECT_COPY_ROWS,
        source: LATENCY_TEXT,
        milvus: `Milvus Lite ${milvusLiteVersion()}`,
        pipeline:
          'p2m service extractor + N × p2m service loader processes; the controller (in the bench process) creates the job; rate = records committed by the loaders / time since job creation',
        pipelineWriter: PIPELINE_WRITER,
        jobOptions: JOB_OPTIONS ?? 'job defaults (6 topic partitions, 16 MB batches, fetch 100 ids per call, 4 namespaces at once)',
      };
      out['results'] = results;
      out['details'] = details;
      out['seconds'] = Math.round((performance.now() - started) / 1000);
      mkdirSync(RESULTS_DIR, { recursive: true });
      writeFileSync(join(RESULTS_DIR, `${OUT_NAME}.json`), `${JSON.stringify(out, null, 2)}\n`);
      const two = details['dense']!.pipeline.find((p) => p.loaders === 2 && p.writer === PIPELINE_WRITER)!;
      const md = markdown(out, dense, variants.hybrid ?? null, rss, cpu, profile, { busy: two.machine.busyCpuSeconds, own: two.machine.ownCpuSeconds });
      writeFileSync(join(RESULTS_DIR, `${OUT_NAME}.md`), md);
      if (final) process.stdout.write(md);
    };

    for (const [kind, records] of kinds) {
      const index = `bench-${kind}`;
      log(`${kind}: seeding the emulator with ${records} records`);
      await emulator.load(index, kind, records);
      const sinkRows = Math.min(SINK_ROWS, records);
      const sinks = await measureSinks(kind, address, pids.milvus, kind === 'dense' ? sinkRows : Math.min(sinkRows, Math.round(SINK_ROWS / 2)));
      log(`${kind}: source ceiling (list + fetch within the rate limits)`);
      const sourceRuns: SourceRun[] = [];
      for (let round = 0; round < 2; round++) {
        sourceRuns.push(
          await measureSourceCeiling({
            controllerHostUrl: emulator.controllerHostUrl,
            apiKey: emulator.apiKey,
            index,
            fetchIds: 100,
            maxFetchesInFlight: 8,
            pids: { emulator: emulator.pid },
          }),
        );
      }
      const source = [...sourceRuns].sort((a, b) => b.rowsPerSec - a.rowsPerSec)[0]!;
      log(`${kind}: source ceiling ${source.rowsPerSec} rows/s; direct copy of ${DIRECT_COPY_ROWS} records`);
      const directCopy = await measureDirectCopy({
        controllerHostUrl: emulator.controllerHostUrl,
        apiKey: emulator.apiKey,
        index,
        kind,
        address,
        limit: DIRECT_COPY_ROWS,
        pids: { emulator: emulator.pid, milvus: pids.milvus },
      });
      const setup: PipelineSetup = { ...base, index };
      if (kind === 'dense') {
        // Kafka's and the services' JIT warm up once, as the other measurements had their warm-up call.
        log('pipeline warm-up (2,000 records, not counted)');
        await emulator.load('bench-warmup', 'dense', 2_000);
        await pipelineRun({ ...base, index: 'bench-warmup' }, kind, 2, 2_000);
      }
      const pipeline: PipelineRun[] = [];
      for (const loaders of kind === 'dense' ? LOADER_COUNTS : [2]) pipeline.push(await pipelineRun(setup, kind, loaders, records));
      if (kind === 'dense') {
        // The same pipeline with the loaders on the SDK write path (P2M_MILVUS_WRITER=sdk): the "before".
        const bestLoaders = [...pipeline].sort((a, b) => b.rowsPerSec - a.rowsPerSec)[0]!.loaders;
        pipeline.push(await pipelineRun(setup, kind, bestLoaders, records, undefined, PIPELINE_WRITER === 'sdk' ? 'grpc' : 'sdk'));
        const profileDir = join(BENCH_STACK.stateDir!, 'profiles');
        rmSync(profileDir, { recursive: true, force: true });
        const profiled = await pipelineRun(setup, kind, 1, records, profileDir);
        pipeline.push(profiled);
        profile = profileSummary(profiled);
        const two = pipeline.find((p) => p.loaders === 2 && p.writer === PIPELINE_WRITER)!;
        cpu = cpuShares(two);
        const worst = (runs: PipelineRun[], f: (r: PipelineRun) => number): number => Math.max(...runs.map(f));
        const plain = pipeline.filter((p) => !p.cpuProfile && p.writer === PIPELINE_WRITER);
        const other = pipeline.find((p) => p.writer !== PIPELINE_WRITER);
        rss[String(records)] = { extractor: worst(plain, (r) => r.peakRssMb.extractor), loader: worst(plain, (r) => Math.max(...r.peakRssMb.loaders)) };
        if (other) rss[String(records)]![`loader_${other.writer}_writer`] = Math.max(...other.peakRssMb.loaders);
      }
      details[kind] = { ...sinks, source, directCopy, pipeline };
      variants[kind] = variant(kind, records, kind === 'dense' ? sinkRows : Math.min(sinkRows, Math.round(SINK_ROWS / 2)), details[kind]);
      results[kind] = variants[kind];
      log(`${kind}: ${JSON.stringify(variants[kind])}`);
      save(false);
    }

    if (MILLION) {
      const count = 1_000_000;
      log(`memory: seeding ${count} dense records for the peak-RSS run`);
      await emulator.load('bench-million', 'dense', count);
      const setup: PipelineSetup = { ...base, index: 'bench-million' };
      const run = await pipelineRun(setup, 'dense', 2, count);
      rss[String(count)] = { extractor: run.peakRssMb.extractor, loader: Math.max(...run.peakRssMb.loaders) };
      details['million'] = { pipeline: [run] } as unknown as Details;
      save(false);
    }

    save(true);
    log(`done in ${out['seconds'] as number} s: bench/results/latest.json, bench/results/latest.md`);
  } finally {
    await bench.close(flag('keep-stack'));
  }
}

await main();
// Lingering sockets of stopped clients must not keep the process alive.
process.exit(0);
