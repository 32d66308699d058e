/**
 * The pipeline alone, for working on it: `npm run bench:pipeline -- [--records N] [--loaders 1,2]
 * [--kind dense|hybrid] [--rounds N] [--profile] [--job-options JSON] [--writer grpc|sdk]
 * [--sink-latency-ms N] [--keep-stack]`. `--sink-latency-ms` puts a TCP proxy that adds N ms of
 * round trip between the pipeline and Milvus: a remote Milvus (Zilliz Cloud) on this machine.
 * Seeds the emulator, runs p2m end to end (extractor + N loader processes) on the bench stack and
 * prints one JSON line per run: rows/s, CPU seconds per process, CPU per record, peak RSS. No
 * ceilings, no results file: `npm run bench` is the benchmark; this is its pipeline part on its
 * own, e.g. for the 1,000,000-record memory run or a before/after of one change, run side by side.
 */
import { join, resolve } from 'node:path';
import type { DatasetKind } from './lib/dataset.ts';
import { measurePipeline, p2mCpuMsPerRecord, profileSummary } from './lib/pipeline-bench.ts';
import { startLatencyProxy } from './lib/latency-proxy.ts';
import { startBench } from './lib/setup.ts';
import { BENCH_STACK } from './lib/stack.ts';

const argv = process.argv.slice(2);
const opt = (name: string): string | undefined => (argv.includes(`--${name}`) ? argv[argv.indexOf(`--${name}`) + 1] : undefined);
const RECORDS = Number(opt('records') ?? 20_000);
const LOADERS = (opt('loaders') ?? '2').split(',').map(Number);
const KIND = (opt('kind') ?? 'dense') as DatasetKind;
const ROUNDS = Number(opt('rounds') ?? 1);
const PROFILE = argv.includes('--profile');
const WRITER = opt('writer') ?? 'grpc';
const SINK_LATENCY_MS = Number(opt('sink-latency-ms') ?? 0);
const JOB_OPTIONS = opt('job-options') ? (JSON.parse(opt('job-options')!) as Record<string, unknown>) : undefined;
/**
 * Variants run in turn within every round (interleaved, so that the machine's load moves them
 * alike): `{"before":{"repo":"../main"},"after":{}}` or `{"none":{"env":{"X":"0"}},"lz4":{"env":{"X":"1"}}}`.
 * `repo` starts the services from another checkout, `env` adds to their environment.
 */
interface Variant {
  repo?: string;
  env?: Record<string, string>;
  /** This variant's `--sink-latency-ms` (e.g. 0 and 50 side by side). */
  sinkLatencyMs?: number;
}
const VARIANTS: [string, Variant][] = Object.entries(opt('variants') ? (JSON.parse(opt('variants')!) as Record<string, Variant>) : { '': {} });
const log = (line: string): void => void process.stderr.write(`[bench:pipeline ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

const bench = await startBench({ writer: WRITER, jobOptions: JOB_OPTIONS });
/** One latency proxy in front of Milvus per round trip asked for (the option's and the variants'). */
const proxies = new Map<number, Awaited<ReturnType<typeof startLatencyProxy>>>();
const latencyOf = (v: Variant): number => v.sinkLatencyMs ?? SINK_LATENCY_MS;
try {
  for (const ms of new Set(VARIANTS.map(([, v]) => latencyOf(v)))) if (ms > 0) proxies.set(ms, await startLatencyProxy(bench.address, ms));
  const index = `bench-${KIND}-${RECORDS}`;
  log(`seeding the emulator with ${RECORDS} ${KIND} records`);
  await bench.emulator.load(index, KIND, RECORDS);
  for (let round = 1; round <= ROUNDS; round++) {
    for (const loaders of LOADERS)
      for (const [variant, v] of VARIANTS) {
        const collection = `bench_pipe_${KIND}_${loaders}_${Date.now().toString(36)}`;
        const profileDir = PROFILE ? join(BENCH_STACK.stateDir!, 'profiles', collection) : undefined;
        log(`round ${round}: ${loaders} loader(s)${loaders === 0 ? ' (the extractor alone)' : ''}, ${RECORDS} records${variant ? `, variant ${variant}` : ''}`);
        const address = proxies.get(latencyOf(v))?.address ?? bench.address;
        const run = await measurePipeline({ ...bench.base, index, address }, loaders, RECORDS, {
          collection,
          kind: KIND,
          ...(profileDir ? { profileDir } : {}),
          ...(v.env ? { env: v.env } : {}),
          ...(v.repo ? { repo: resolve(v.repo) } : {}),
        });
        const cpuTotal = Object.values(run.cpuSeconds).reduce((a, b) => a + b, 0);
        const profile = profileSummary(run);
        process.stdout.write(
          `${JSON.stringify({
            round,
            ...(variant ? { variant } : {}),
            kind: KIND,
            sink_latency_ms: latencyOf(v),
            loaders,
            records: run.records,
            rows_per_s: run.rowsPerSec,
            durable_rows_per_s: run.durableRowsPerSec,
            flush_seconds: run.flushSeconds,
            seconds: run.seconds,
            extract_seconds: run.extractSeconds,
            cpu_ms_per_row: Math.round((cpuTotal * 1e6) / run.records) / 1000,
            p2m_cpu_ms_per_record: p2mCpuMsPerRecord(run),
            cpu_seconds: run.cpuSeconds,
            peak_rss_mb: run.peakRssMb,
            machine: run.machine,
            ...(profile ? { profile } : {}),
          })}\n`,
        );
      }
  }
} finally {
  for (const proxy of proxies.values()) await proxy.close();
  await bench.close(argv.includes('--keep-stack'));
}
process.exit(0);
