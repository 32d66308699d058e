import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EtlError } from '@p2m/core';
import { apicurioVersion, ensureKafka, ensureMilvusLite, ensureRegistry, kafkaVersion, milvusLiteMajor, milvusLiteVersion } from './install.ts';
import { milvusStandaloneSpec } from './milvus-standalone.ts';
import type { StackOptions } from './options.ts';
import { freePort } from './ports.ts';
import type { SpawnSpec } from './process.ts';
import { procInfo, tailFile } from './process.ts';

/** Written to a component's log before each start; what follows belongs to that run. */
export const START_MARKER = '=== p2m stack: starting ';

/** Root of the p2m checkout (packages/stack/src → ../../..). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const P2M_BIN = join(REPO_ROOT, 'bin', 'p2m.js');

/**
 * Node flags for a p2m service process. A young generation of 2 MB semi-spaces instead of V8's
 * default (it grows to 64 MB semi-spaces on a machine with this much memory): the services
 * allocate a lot of short-lived objects (JSON pages, decoded records, request buffers) and a
 * small young generation collects them while they are still in cache. Measured side by side in
 * `npm run bench:pipeline` (20,000 × 768-d, 2 loaders, two rounds): peak RSS 380–405 → 266–285
 * MB per process, extractor CPU −18 %, pipeline +15 % rows/s. bin/p2m.js's shebang and the
 * Dockerfile pass the same flag.
 */
export const SERVICE_NODE_ARGS: readonly string[] = ['--max-semi-space-size=2'];

/** Arguments for `process.execPath` that run one p2m service (`p2m service <role>`) as the stack does; `nodeArgs` go to Node (e.g. --cpu-prof). */
export function serviceArgs(role: string, nodeArgs: readonly string[] = []): string[] {
  return [...SERVICE_NODE_ARGS, ...nodeArgs, P2M_BIN, 'service', role];
}

/**
 * A KRaft cluster id: 16 random bytes, base64url. Never one starting with '-', which kafka-storage's
 * argument parser takes for an option ("argument --cluster-id/-t: expected one argument"); one id
 * in 64 did, and the stack then failed to start. Kafka's own Uuid.randomUuid() skips those too.
 */
export function kafkaClusterId(random: () => Buffer = () => randomBytes(16)): string {
  for (;;) {
    const id = random().toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

/** Values clients need to reach the stack; written to `<state>/stack.env`. */
export interface StackEnv {
  P2M_API_TOKEN: string;
  /** Seals job secrets (the source API key) in Kafka; the same for every service. */
  P2M_SECRET_KEY: string;
  P2M_KAFKA_BROKERS: string;
  P2M_REGISTRY_URL: string;
  P2M_MILVUS_ADDRESS: string;
  P2M_PINECONE_CONTROLLER_URL: string;
  P2M_PINECONE_API_KEY: string;
  P2M_CONTROLLER_URL: string;
}

export interface StackContext {
  opts: StackOptions;
  env: StackEnv;
  /** Absolute path of a component's folder under the state dir. */
  dir(name: string): string;
}

/** What the launcher knows about a running component process. */
export interface RunningProcess {
  pid: number;
  /** Size of its log file when this run started: what follows belongs to this run. */
  logOffset?: number;
}

/** One process of the stack. */
export interface ComponentSpec {
  name: string;
  /** The port clients use (undefined for workers without a listener). */
  port?: number;
  /** Ports that must be free (or held by this very component) before it starts. */
  ports: number[];
  /** Components of a lower stage are healthy before a higher stage starts. */
  stage: number;
  startTimeoutMs: number;
  /** SIGTERM, then SIGKILL after this long when it has not exited (default 15 s). */
  stopGraceMs?: number;
  /** What it runs (e.g. a version); a running process with another fingerprint is replaced. */
  fingerprint?: string;
  /** Downloads and one-time preparation; returns how to start the process. */
  prepare(ctx: StackContext): Promise<SpawnSpec>;
  /** A real call against the component; throws when it is not healthy. */
  health(ctx: StackContext, proc: RunningProcess): Promise<void>;
}

export interface ComponentDefinition {
  name: string;
  /** Why a definition may be off: its command is not written yet. */
  enabled(): boolean;
  /** Started only when asked for by name (`components`), never by a plain `up`. */
  optional?: boolean;
  specs(ctx: StackContext): ComponentSpec[];
}

/** Runs a short command to completion (e.g. Kafka's storage format), output to `logFile`. */
function runToCompletion(spec: SpawnSpec, logFile: string, what: string): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(spec.cmd, spec.args, { cwd: spec.cwd, env: spec.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) => {
      writeFileSync(logFile, output, { flag: 'a' });
      if (code === 0) resolvePromise();
      else reject(new EtlError('STACK', `${what} failed (exit ${code}): ${output.trim().split('\n').slice(-2).join(' ')}`, { hint: `see ${logFile}` }));
    });
  });
}

async function httpCheck(url: string, headers: Record<string, string>, timeoutMs: number): Promise<string> {
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(timeoutMs) });
  const body = await res.text();
  if (!res.ok) throw new EtlError('STACK', `GET ${url} answered ${res.status}: ${body.slice(0, 200)}`, { retriable: true });
  return body;
}

function processAlive(name: string, pid: number): void {
  if (!procInfo(pid).running) throw new EtlError('STACK', `${name} is not running`, { retriable: true });
}

const kafka: ComponentDefinition = {
  name: 'kafka',
  enabled: () => true,
  specs: (ctx) => [
    {
      name: 'kafka',
      port: ctx.opts.ports.kafka,
      ports: [ctx.opts.ports.kafka, ctx.opts.ports.kafkaController],
      stage: 0,
      startTimeoutMs: 120_000,
      fingerprint: `kafka ${kafkaVersion()}`,
      async prepare(c) {
        const home = await ensureKafka(c.opts.cacheDir, c.opts.log);
        const dir = c.dir('kafka');
        const data = join(dir, 'data');
        mkdirSync(data, { recursive: true });
        const { kafka: port, kafkaController: controllerPort } = c.opts.ports;
        const props = join(dir, 'server.properties');
        writeFileSync(
          props,
          [
            '# Written by p2m stack on every start; edit the launcher, not this file.',
            'process.roles=broker,controller',
            'node.id=1',
            `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
            `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
            `advertised.listeners=PLAINTEXT://127.0.0.1:${port}`,
            'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
            'controller.listener.names=CONTROLLER',
            'inter.broker.listener.name=PLAINTEXT',
            `log.dirs=${data}`,
            'num.partitions=1',
            'default.replication.factor=1',
            'min.insync.replicas=1',
            'offsets.topic.replication.factor=1',
            // A single node needs few coordinator partitions; 50 makes the first group join slow.
            'offsets.topic.num.partitions=5',
            'transaction.state.log.replication.factor=1',
            'transaction.state.log.min.isr=1',
            'transaction.state.log.num.partitions=5',
            'group.initial.rebalance.delay.ms=0',
            // After a crash the broker cannot register until its old session expires (default 9 s):
            // a single local node restarts faster with a shorter session.
            'broker.session.timeout.ms=4000',
            'broker.heartbeat.interval.ms=1000',
            // Topics are created explicitly by the pipeline (DESIGN.md); auto-create would hide a missing step.
            'auto.create.topics.enable=false',
            'log.retention.hours=168',
            '',
          ].join('\n'),
        );
        const log4j = join(dir, 'log4j.properties');
        writeFileSync(
          log4j,
          [
            'log4j.rootLogger=INFO, stdout',
            'log4j.appender.stdout=org.apache.log4j.ConsoleAppender',
            'log4j.appender.stdout.layout=org.apache.log4j.PatternLayout',
            'log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n',
            'log4j.logger.kafka.request.logger=WARN',
            'log4j.logger.state.change.logger=WARN',
            'log4j.logger.org.apache.kafka.clients=WARN',
            '',
          ].join('\n'),
        );
        const classpath = `${join(home, 'lib')}/*`;
        const jvm = ['-Xmx512m', '-Xms128m', '-Djava.awt.headless=true', `-Dlog4j.configuration=file:${log4j}`, '-cp', classpath];
        if (!existsSync(join(data, 'meta.properties'))) {
          const idFile = join(dir, 'cluster.id');
          // An id written by an earlier version may start with '-' (the format never ran with it).
          const written = existsSync(idFile) ? readFileSync(idFile, 'utf8').trim() : '';
          const clusterId = written && !written.startsWith('-') ? written : kafkaClusterId();
          if (clusterId !== written) writeFileSync(idFile, clusterId);
          await runToCompletion(
            { cmd: 'java', args: [...jvm, 'kafka.tools.StorageTool', 'format', '--ignore-formatted', '-t', clusterId, '-c', props] },
            join(c.opts.stateDir, 'logs', 'kafka-format.log'),
            'formatting Kafka storage',
          );
        }
        return { cmd: 'java', args: [...jvm, 'kafka.Kafka', props], cwd: dir };
      },
      async health(c) {
        const { checkKafkaHealth } = await import('@p2m/kafka');
        await checkKafkaHealth(c.env.P2M_KAFKA_BROKERS.split(','), 20_000);
      },
    },
  ],
};

const registry: ComponentDefinition = {
  name: 'registry',
  enabled: () => true,
  specs: (ctx) => [
    {
      name: 'registry',
      port: ctx.opts.ports.registry,
      ports: [ctx.opts.ports.registry],
      stage: 0,
      startTimeoutMs: 180_000,
      fingerprint: `apicurio ${apicurioVersion()}`,
      async prepare(c) {
        const { jar } = await ensureRegistry(c.opts.cacheDir, c.opts.log);
        const dir = c.dir('registry');
        mkdirSync(dir, { recursive: true });
        const managementPort = await freePort();
        return {
          cmd: 'java',
          args: [
            '-Xmx512m',
            // C1 only: the registry does little work, and startup on two cores matters more.
            '-XX:TieredStopAtLevel=1',
            '-Djava.awt.headless=true',
            '-Dquarkus.http.host=127.0.0.1',
            `-Dquarkus.http.port=${c.opts.ports.registry}`,
            '-Dquarkus.management.host=127.0.0.1',
            `-Dquarkus.management.port=${managementPort}`,
            '-Dquarkus.http.access-log.enabled=false',
            // Schemas must survive a registry restart: records in Kafka refer to them by id.
            `-Dapicurio.datasource.url=jdbc:h2:file:${join(dir, 'registry')};DB_CLOSE_ON_EXIT=FALSE`,
            '-jar',
            jar,
          ],
          cwd: dir,
        };
      },
      async health(c) {
        const body = await httpCheck(`${c.env.P2M_REGISTRY_URL}/subjects`, { Accept: 'application/vnd.schemaregistry.v1+json' }, 5_000);
        if (!Array.isArray(JSON.parse(body))) throw new EtlError('STACK', `the registry's /subjects did not answer a list`, { retriable: true });
      },
    },
  ],
};

function milvusLiteSpec(ctx: StackContext): ComponentSpec {
  return {
    name: 'milvus',
    port: ctx.opts.ports.milvus,
    ports: [ctx.opts.ports.milvus],
    stage: 0,
    startTimeoutMs: 90_000,
    // "one worker": a server started with the old thread pool is replaced, not reused.
    fingerprint: `milvus-lite ${milvusLiteVersion()} one worker`,
    async prepare(c) {
      const lite = await ensureMilvusLite(c.opts.cacheDir, c.opts.log);
      const port = c.opts.ports.milvus;
      // Data formats differ between majors: one folder each.
      const dir = c.dir(`milvus-lite-${milvusLiteMajor(lite.version)}`);
      mkdirSync(dir, { recursive: true });
      if (lite.binary && lite.libDir) {
        // 2.5.x: the wheel's C++ server; with an address argument it serves gRPC on host:port.
        return {
          cmd: lite.binary,
          args: [join(dir, 'milvus.db'), `127.0.0.1:${port}`, process.env.P2M_MILVUS_LOG_LEVEL || 'ERROR'],
          cwd: dir,
          env: { LD_LIBRARY_PATH: [lite.libDir, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':') },
        };
      }
      // One worker thread: Milvus Lite 3.x serves gRPC on a pool of 10 threads with no lock around
      // its writes. Concurrent writers (two loaders, or a loader's batches in flight) race on its
      // sequence counter and on the memtable a flush swaps out: flushes fail ("current_seq is
      // monotonic") and acknowledged rows can be lost. Serialised, they cannot; and it is not
      // slower (the server is bound by Python's GIL either way).
      return {
        cmd: join(lite.venv, 'bin', 'python3'),
        args: ['-m', 'milvus_lite', 'server', '--data-dir', dir, '--host', '127.0.0.1', '--port', String(port), '--max-workers', '1'],
        cwd: dir,
      };
    },
    async health(c) {
      const { checkMilvusHealth } = await import('@p2m/milvus-sink');
      await checkMilvusHealth(c.env.P2M_MILVUS_ADDRESS, undefined, 5_000);
    },
  };
}

/** The stack's Milvus at `ports.milvus`: Milvus Lite, or the standalone server (`milvus: 'standalone'`). */
const milvus: ComponentDefinition = {
  name: 'milvus',
  enabled: () => true,
  specs: (ctx) => [ctx.opts.milvus === 'standalone' ? milvusStandaloneSpec(ctx, 'milvus', ctx.opts.ports.milvus) : milvusLiteSpec(ctx)],
};

/**
 * The standalone server beside the stack's Milvus, on its own ports: the integration suite runs
 * its tests for a real, WAL-backed server against it while the rest of the suite uses Lite.
 */
export const MILVUS_STANDALONE = 'milvus-standalone';
const milvusStandalone: ComponentDefinition = {
  name: MILVUS_STANDALONE,
  enabled: () => true,
  optional: true,
  specs: (ctx) => [milvusStandaloneSpec(ctx, MILVUS_STANDALONE, ctx.opts.milvusStandalone.port)],
};

const cliCommandExists = (name: string): boolean => existsSync(join(REPO_ROOT, 'packages', 'cli', 'src', 'commands', `${name}.ts`));

const emulator: ComponentDefinition = {
  name: 'emulator',
  enabled: () => cliCommandExists('emulator'),
  specs: (ctx) => [
    {
      name: 'emulator',
      port: ctx.opts.ports.emulator,
      ports: [ctx.opts.ports.emulator],
      stage: 0,
      startTimeoutMs: 60_000,
      async prepare(c) {
        const dir = c.dir('emulator');
        mkdirSync(dir, { recursive: true });
        return {
          cmd: process.execPath,
          args: [P2M_BIN, 'emulator', '--port', String(c.opts.ports.emulator), '--api-key', c.env.P2M_PINECONE_API_KEY, '--data-dir', dir],
          cwd: REPO_ROOT,
        };
      },
      async health(c) {
        await httpCheck(`${c.env.P2M_PINECONE_CONTROLLER_URL}/indexes`, { 'Api-Key': c.env.P2M_PINECONE_API_KEY }, 5_000);
      },
    },
  ],
};

/** The pipeline's own services: on once `p2m service <role>` exists. Config comes by env. */
function service(
  role: string,
  name: string,
  stage: number,
  extraEnv: Record<string, string>,
  port: number | undefined,
  health: ComponentSpec['health'],
): ComponentSpec {
  return {
    name,
    port,
    ports: port === undefined ? [] : [port],
    stage,
    startTimeoutMs: 60_000,
    async prepare() {
      return { cmd: process.execPath, args: serviceArgs(role), cwd: REPO_ROOT, env: extraEnv };
    },
    health,
  };
}

/**
 * Workers have no listener: healthy means running and, since their last start, they logged
 * that they started (`p2m service` logs "service started" once its runtime is up).
 */
const workerHealth =
  (name: string): ComponentSpec['health'] =>
  async (c, proc) => {
    processAlive(name, proc.pid);
    const file = join(c.opts.stateDir, 'logs', `${name}.log`);
    const size = statSync(file).size;
    const from = proc.logOffset ?? Math.max(0, size - 1_048_576);
    const fd = openSync(file, 'r');
    try {
      const buf = Buffer.alloc(Math.min(1_048_576, Math.max(0, size - from)));
      readSync(fd, buf, 0, buf.length, from);
      if (!buf.toString('utf8').includes('service started')) throw new EtlError('STACK', `${name} has not reported "service started" yet`, { retriable: true });
    } finally {
      closeSync(fd);
    }
  };

const controller: ComponentDefinition = {
  name: 'controller',
  enabled: () => cliCommandExists('service'),
  specs: (ctx) => [
    // Stage 1: the controller comes up first (it creates the shared topics), workers after it.
    service(
      'controller',
      'controller',
      1,
      { P2M_CONTROLLER_PORT: String(ctx.opts.ports.controller), P2M_CONTROLLER_HOST: '127.0.0.1' },
      ctx.opts.ports.controller,
      async (c) => {
        await httpCheck(`${c.env.P2M_CONTROLLER_URL}/healthz`, {}, 5_000);
      },
    ),
  ],
};

const extractor: ComponentDefinition = {
  name: 'extractor',
  enabled: () => cliCommandExists('service'),
  specs: () => [service('extractor', 'extractor', 2, { P2M_SERVICE_ID: 'extractor' }, undefined, workerHealth('extractor'))],
};

const loaders: ComponentDefinition = {
  name: 'loader',
  enabled: () => cliCommandExists('service'),
  specs: (ctx) =>
    Array.from({ length: ctx.opts.loaders }, (_, i) => {
      const name = `loader-${i + 1}`;
      return service('loader', name, 2, { P2M_SERVICE_ID: name }, undefined, workerHealth(name));
    }),
};

/** Every component the stack knows, in start order. Add new ones here. */
export const COMPONENTS: ComponentDefinition[] = [kafka, registry, milvus, milvusStandalone, emulator, controller, extractor, loaders];

/** Names of the component definitions that can run in this checkout (e.g. `loader`, not `loader-1`). */
export function enabledComponents(): string[] {
  return COMPONENTS.filter((d) => d.enabled()).map((d) => d.name);
}

/** Where a component's last log lines are, for error messages. */
export function logTail(stateDir: string, name: string): string {
  return tailFile(join(stateDir, 'logs', `${name}.log`), 3);
}
