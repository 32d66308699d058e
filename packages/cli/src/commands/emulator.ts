// `p2m emulator`: the Pinecone-compatible emulator on its own, `p2m emulator seed` to fill an
// index with the deterministic test dataset or one of the index shapes, and `p2m emulator
// shapes` to list those.

import type { Command } from 'commander';
import { DEFAULT_RATE_LIMITS, SHAPES, seedIndex, shapeNamed, shapeOptions, startEmulator } from '@p2m/emulator';
import type { FaultConfig, FsyncPolicy, GeneratorOptions, Metric, RateLimits, ShapeRequest } from '@p2m/emulator';

interface ServeOptions {
  port: string;
  host: string;
  apiKey: string;
  dataDir?: string;
  fsync: string;
  rateLimits: boolean;
  rateLimit: string[];
  errorRate?: string;
  errorStatuses?: string;
  latencyMs?: string;
  latencyJitterMs?: string;
  dropRate?: string;
  faultOps?: string;
  faultSeed: string;
  formatThreads?: string;
  verbose?: boolean;
}

interface SeedCliOptions {
  index: string;
  shape?: string;
  count?: string;
  dim?: string;
  metric?: string;
  namespaces: string;
  sparse?: boolean;
  sparseOnly?: boolean;
  pod?: boolean;
  seed: string;
  url: string;
  apiKey: string;
  edgeCases: boolean;
  concurrency: string;
  quiet?: boolean;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

function int(value: string, name: string, min = 0): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer >= ${min}, got ${JSON.stringify(value)}`);
  return n;
}

function num(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new Error(`${name} must be a number, got ${JSON.stringify(value)}`);
  return n;
}

function rateLimits(opts: ServeOptions): RateLimits | false {
  if (!opts.rateLimits) return false;
  const limits: Record<string, number> = { ...DEFAULT_RATE_LIMITS };
  for (const pair of opts.rateLimit) {
    const m = /^([a-z_]+)=(\d+(?:\.\d+)?)$/.exec(pair);
    if (!m) throw new Error(`--rate-limit wants op=number (e.g. fetch=50), got ${JSON.stringify(pair)}`);
    limits[m[1]!] = Number(m[2]);
  }
  return limits;
}

function faults(opts: ServeOptions): FaultConfig {
  const config: FaultConfig = {};
  const errorRate = num(opts.errorRate, '--error-rate');
  const dropRate = num(opts.dropRate, '--drop-rate');
  const latencyMs = num(opts.latencyMs, '--latency-ms');
  const latencyJitterMs = num(opts.latencyJitterMs, '--latency-jitter-ms');
  if (errorRate !== undefined) config.errorRate = errorRate;
  if (dropRate !== undefined) config.dropRate = dropRate;
  if (latencyMs !== undefined) config.latencyMs = latencyMs;
  if (latencyJitterMs !== undefined) config.latencyJitterMs = latencyJitterMs;
  if (opts.errorStatuses) config.errorStatuses = opts.errorStatuses.split(',').map((s) => int(s.trim(), '--error-statuses', 500));
  if (opts.faultOps) config.operations = opts.faultOps.split(',').map((s) => s.trim());
  return config;
}

async function serve(opts: ServeOptions): Promise<void> {
  const fsync = opts.fsync as FsyncPolicy;
  if (!['always', 'interval', 'never'].includes(fsync)) throw new Error('--fsync must be always, interval or never');
  const limits = rateLimits(opts);
  const injected = faults(opts);
  const emulator = await startEmulator({
    port: int(opts.port, '--port'),
    host: opts.host,
    apiKey: opts.apiKey,
    ...(opts.dataDir ? { dataDir: opts.dataDir } : {}),
    fsync,
    rateLimits: limits,
    faults: injected,
    seed: int(opts.faultSeed, '--fault-seed'),
    ...(opts.formatThreads === undefined ? {} : { formatThreads: int(opts.formatThreads, '--format-threads') }),
    ...(opts.verbose ? { log: (line: string) => console.log(line) } : {}),
  });
  const indexes = Object.entries(emulator.stats().indexes);
  console.log(
    [
      `p2m emulator: Pinecone-compatible API on ${emulator.controllerHostUrl}`,
      `  use it as new Pinecone({ apiKey, controllerHostUrl: '${emulator.controllerHostUrl}' })`,
      `  api key: ${opts.apiKey === 'pclocal' ? 'pclocal (default)' : '(as given)'}`,
      `  data: ${opts.dataDir ? `${opts.dataDir} (append-only log, fsync ${fsync})` : 'in memory only'}`,
      `  index hosts: one port each, ${opts.port === '0' ? 'on free ports' : `from ${emulator.port + 1} up`} (describe_index returns the URL)`,
      `  rate limits: ${
        limits
          ? Object.entries(limits)
              .map(([k, v]) => `${k}=${v}`)
              .join(' ')
          : 'off'
      }`,
      `  faults: ${Object.keys(injected).length === 0 ? 'none' : JSON.stringify(injected)} (change at run time: POST /admin/faults)`,
      ...indexes.map(([name, i]) => `  index ${name}: ${i.host}, ${i.records} records`),
    ].join('\n'),
  );
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      resolve();
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
  await emulator.close();
  console.log('p2m emulator: stopped');
}

/**
 * `p2m emulator seed --api-key K`: commander hands an option both commands define to the parent
 * unless the root program has positional options (main.ts does not set them), so take the value
 * from whichever command actually got it on the command line.
 */
function seedApiKey(opts: SeedCliOptions, cmd: Command): string {
  if (cmd.getOptionValueSource('apiKey') === 'cli') return opts.apiKey;
  const parent = cmd.parent;
  if (parent?.getOptionValueSource('apiKey') === 'cli') return String(parent.opts().apiKey);
  return opts.apiKey;
}

const METRICS: readonly string[] = ['cosine', 'euclidean', 'dotproduct'];

function metricOf(value: string): Metric {
  if (!METRICS.includes(value)) throw new Error(`--metric must be cosine, euclidean or dotproduct, got ${JSON.stringify(value)}`);
  return value as Metric;
}

/** The dataset of `--shape NAME`, from the flags given on the command line (the rest: the shape's defaults). */
function shapeDataset(opts: SeedCliOptions, cmd: Command): GeneratorOptions & { metric: Metric } {
  const shape = shapeNamed(opts.shape!);
  const given = (flag: string): boolean => cmd.getOptionValueSource(flag) === 'cli';
  for (const [flag, name] of [
    ['sparseOnly', '--sparse-only'],
    ['pod', '--pod'],
    ['edgeCases', '--no-edge-cases'],
  ] as const) {
    if (given(flag)) throw new Error(`${name} does not combine with --shape (shape ${shape.name} decides its index and records)`);
  }
  const request: ShapeRequest = { seed: int(opts.seed, '--seed') };
  const flags: [keyof ShapeRequest, string][] = [
    ['count', '--count'],
    ['dim', '--dim'],
    ['namespaces', '--namespaces'],
    ['metric', '--metric'],
    ['sparse', '--sparse'],
  ];
  for (const [setting, flag] of flags) {
    if (!given(setting)) continue;
    if (shape.fixed.includes(setting as never)) throw new Error(`${flag} does not apply to --shape ${shape.name}: the shape decides ${setting} itself`);
    if (setting === 'metric') request.metric = metricOf(opts.metric!);
    else if (setting === 'sparse') request.sparse = true;
    else if (setting === 'dim') request.dim = int(opts.dim!, '--dim', 1);
    else request[setting] = int(String(opts[setting]), flag, 1);
  }
  try {
    return shapeOptions(shape.name, request);
  } catch (err) {
    throw new Error(`--shape ${shape.name}: ${(err as Error).message}`);
  }
}

async function seed(opts: SeedCliOptions, cmd: Command): Promise<void> {
  let dataset: GeneratorOptions & { metric?: Metric };
  if (opts.shape !== undefined) {
    dataset = shapeDataset(opts, cmd);
  } else {
    if (opts.count === undefined) throw new Error('--count is required (or --shape NAME, which has a default count)');
    if (!opts.sparseOnly && opts.dim === undefined) throw new Error('--dim is required (or --sparse-only for a sparse index)');
    dataset = {
      count: int(opts.count, '--count'),
      dim: opts.sparseOnly ? 0 : int(opts.dim!, '--dim', 1),
      namespaces: int(opts.namespaces, '--namespaces', 1),
      sparse: opts.sparseOnly ? 'only' : Boolean(opts.sparse),
      seed: int(opts.seed, '--seed'),
      edgeCases: opts.edgeCases,
      ...(opts.metric ? { metric: metricOf(opts.metric) } : {}),
    };
  }
  const result = await seedIndex({
    ...dataset,
    index: opts.index,
    url: opts.url,
    apiKey: seedApiKey(opts, cmd),
    concurrency: int(opts.concurrency, '--concurrency', 1),
    ...(opts.pod ? { pod: true } : {}),
    ...(opts.quiet ? {} : { log: (line: string) => console.error(line) }),
  });
  console.log(JSON.stringify(opts.shape === undefined ? result : { shape: opts.shape, ...result }));
}

function listShapes(opts: { json?: boolean }): void {
  if (opts.json) {
    for (const shape of SHAPES) console.log(JSON.stringify(shape));
    return;
  }
  for (const shape of SHAPES) {
    const d = shape.defaults;
    const index = shape.index.vectorType === 'sparse' ? 'sparse index' : `dense ${shape.index.metric} index, sparse values on ${shape.index.sparseValues}`;
    console.log(`${shape.name}  (${index}; default ${d.count} records, ${d.namespaces} namespaces${d.dim > 0 ? `, dim ${d.dim}` : ''})`);
    console.log(`  ${shape.description}\n`);
  }
}

export function register(program: Command): void {
  const emulator = program
    .command('emulator')
    .description('Run the Pinecone-compatible emulator (control plane on --port, one port per index)')
    .option('--port <port>', 'control-plane port (0: any free port)', '5080')
    .option('--host <address>', 'bind address', '127.0.0.1')
    .option('--api-key <key>', 'the API key clients must send', 'pclocal')
    .option('--data-dir <dir>', 'keep indexes and records here across restarts')
    .option('--fsync <policy>', 'log durability: always | interval (1 s) | never', 'interval')
    .option('--no-rate-limits', "turn off Pinecone's per-index rate limits")
    .option('--rate-limit <op=n>', 'override one limit, e.g. fetch=50 or upsert_bytes=1048576 (repeatable)', collect, [])
    .option('--error-rate <p>', 'inject 5xx answers with probability p (0..1)')
    .option('--error-statuses <list>', 'statuses for injected errors (default 500,503)')
    .option('--latency-ms <ms>', 'add latency to every data-plane request')
    .option('--latency-jitter-ms <ms>', 'add random latency up to this much')
    .option('--drop-rate <p>', 'drop connections without an answer with probability p')
    .option('--fault-ops <list>', 'only inject faults into these operations (e.g. fetch,list)')
    .option('--fault-seed <n>', 'seed of the fault PRNG, to repeat a run', '1')
    .option('--format-threads <n>', 'worker threads formatting fetch responses (default 1 with 4+ cores, else 0)')
    .option('--verbose', 'log every request')
    .action((opts: ServeOptions) => serve(opts));

  emulator
    .command('seed')
    .description('Create an index if absent and fill it with deterministic records (edge cases included), or with an index shape')
    .requiredOption('--index <name>', 'index name')
    .option('--shape <name>', `an index shape (p2m emulator shapes): ${SHAPES.map((s) => s.name).join(', ')}`)
    .option('--count <n>', 'number of records (required without --shape)')
    .option('--dim <d>', 'dense dimension')
    .option('--metric <metric>', 'cosine | euclidean | dotproduct (default cosine, dotproduct with --sparse)')
    .option('--namespaces <k>', 'number of namespaces, the default one included', '1')
    .option('--sparse', 'add sparse values (hybrid index, dotproduct)')
    .option('--sparse-only', 'sparse records into a sparse index')
    .option('--pod', 'create a pod-based index')
    .option('--seed <s>', 'dataset seed', '42')
    .option('--url <url>', 'emulator (or Pinecone) control-plane URL', 'http://127.0.0.1:5080')
    .option('--api-key <key>', 'API key', 'pclocal')
    .option('--no-edge-cases', 'only ordinary records')
    .option('--concurrency <n>', 'parallel upsert requests', '4')
    .option('--quiet', 'no progress lines')
    .action((opts: SeedCliOptions, cmd: Command) => seed(opts, cmd));

  emulator
    .command('shapes')
    .description('List the index shapes `seed --shape` makes: what each is for and the index it creates')
    .option('--json', 'one JSON object a line')
    .action((opts: { json?: boolean }) => listShapes(opts));
}
