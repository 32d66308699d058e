// `npm run chaos [-- --seed N] [--count N] [--faults N] [--target lite|standalone] [--keep-stack]`:
// the full chaos run. Starts its own stack (Kafka, registry, Milvus) in .p2m-chaos/ on ports of its
// own, then runs a 200,000-record hybrid migration through separate controller, extractor and loader processes
// while a schedule derived from the seed SIGKILLs and restarts them, restarts the Kafka broker and
// Milvus, and makes the in-process Pinecone emulator answer 429s, 5xx, slowly or not at all.
// Passes when the job is SUCCESSFUL, its DLQ is empty and the target equals the source record by
// record. `--target standalone` makes the stack's Milvus the WAL-backed standalone server (2.3.5,
// no sparse vectors: the index is dense, cosine) and `restart-milvus` kills that server. Prints the seed and every fault with its time, so a failure can be replayed.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { killComponent, milvusServerOf, REPO_ROOT, serviceArgs, stackDown, stackUp, startComponent } from '@p2m/stack';
import { errorMessage } from '@p2m/core';
import { ALL_KINDS, runChaos, type ChaosProcess, type FaultKind } from './lib.ts';

const { values } = parseArgs({
  options: {
    seed: { type: 'string' },
    count: { type: 'string', default: '200000' },
    faults: { type: 'string', default: '12' },
    loaders: { type: 'string', default: '2' },
    /** The job's fetch budget; a slow source leaves room for every fault before the load ends. */
    'fetch-per-second': { type: 'string' },
    'keep-stack': { type: 'boolean', default: false },
    /** Comma-separated fault kinds to draw from (default all), e.g. to bisect a failure. */
    kinds: { type: 'string' },
    /** The stack's Milvus: lite (default) or standalone. */
    target: { type: 'string', default: 'lite' },
  },
});
const seed = values.seed !== undefined ? Number(values.seed) : Math.floor(Math.random() * 2 ** 31);
if (!Number.isInteger(seed)) throw new Error(`--seed must be an integer, got ${values.seed}`);
const count = Number(values.count);
const faults = Number(values.faults);
const kinds = values.kinds ? (values.kinds.split(',').map((k) => k.trim()) as FaultKind[]) : ALL_KINDS;
for (const k of kinds) if (!ALL_KINDS.includes(k)) throw new Error(`unknown fault kind ${k}; known: ${ALL_KINDS.join(', ')}`);
const target = milvusServerOf(values.target, '--target') ?? 'lite';

const stateDir = resolve(REPO_ROOT, '.p2m-chaos');
const ports = {
  kafka: Number(process.env.P2M_CHAOS_KAFKA_PORT || 57092),
  kafkaController: Number(process.env.P2M_CHAOS_KAFKA_CONTROLLER_PORT || 57093),
  registry: Number(process.env.P2M_CHAOS_REGISTRY_PORT || 57081),
  milvus: Number(process.env.P2M_CHAOS_MILVUS_PORT || 57530),
  emulator: Number(process.env.P2M_CHAOS_EMULATOR_PORT || 57080),
  controller: Number(process.env.P2M_CHAOS_CONTROLLER_PORT || 57088),
};
/** The standalone server's other ports (its gRPC is the Milvus port above). */
const milvusStandalone = {
  etcdPort: Number(process.env.P2M_CHAOS_MILVUS_STANDALONE_ETCD_PORT || 57579),
  metricsPort: Number(process.env.P2M_CHAOS_MILVUS_STANDALONE_METRICS_PORT || 57591),
  internalPort: Number(process.env.P2M_CHAOS_MILVUS_STANDALONE_INTERNAL_PORT || 57541),
};
const log = (line: string) => console.log(`[${new Date().toISOString()}] ${line}`);
const stackInput = { stateDir, ports, milvus: target, milvusStandalone, components: ['kafka', 'registry', 'milvus'], log: (l: string) => log(`[stack] ${l}`) };
const replay = `npm run chaos -- --seed ${seed} --count ${count} --faults ${faults}${target === 'lite' ? '' : ` --target ${target}`}`;

log(`chaos: seed ${seed}, Milvus ${target} (replay with: ${replay})`);
const status = await stackUp(stackInput);
const stackEnv = status.env;
// One fixed key: services of an earlier run still on the stack follow every job on the board and
// would fail a job whose secrets they cannot open.
const secretKey = process.env.P2M_CHAOS_SECRET_KEY ?? 'p2m-chaos-secret-key-not-for-production';
const logDir = join(stateDir, 'logs', `run-${seed}-${Date.now()}`);
mkdirSync(logDir, { recursive: true });
const live = new Set<ReturnType<typeof spawn>>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});
// Interrupted: leave no service behind (they would follow the next run's jobs).
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`chaos: ${signal}: stopping the services of seed ${seed}`);
    process.exit(130);
  });
}

/** `p2m service <role>` against the chaos stack; resolves once it logged "service started". */
function spawnService(role: 'controller' | 'extractor' | 'loader', name: string, apiToken: string): Promise<ChaosProcess> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/tmp',
    P2M_STATE_DIR: join(stateDir, 'no-stack-env'),
    P2M_KAFKA_BROKERS: stackEnv.P2M_KAFKA_BROKERS,
    P2M_REGISTRY_URL: stackEnv.P2M_REGISTRY_URL,
    P2M_SECRET_KEY: secretKey,
    P2M_LOG_LEVEL: 'info',
    P2M_SINK_DEADLINE_MS: '300000',
    NODE_ENV: 'production',
    ...(role === 'controller' ? { P2M_API_TOKEN: apiToken, P2M_CONTROLLER_HOST: '127.0.0.1', P2M_CONTROLLER_PORT: '0' } : {}),
  };
  const child = spawn(process.execPath, serviceArgs(role), { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  const file = createWriteStream(join(logDir, `${name}.log`));
  let pending = '';
  let tail = '';
  return new Promise((resolveStart, reject) => {
    let started = false;
    const exited = new Promise<void>((r) =>
      child.once('exit', (code, signal) => {
        live.delete(child);
        file.end();
        if (!started) reject(new Error(`${name} exited (${code ?? signal}) before it started:\n${tail}`));
        r();
      }),
    );
    const timer = setTimeout(() => reject(new Error(`${name} did not start within 180 s:\n${tail}`)), 180_000);
    const onData = (buf: Buffer) => {
      const text = buf.toString('utf8');
      file.write(text);
      tail = (tail + text).slice(-3000);
      if (started) return;
      pending += text;
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        if (!line.includes('service started')) continue;
        let url = '';
        try {
          url = (JSON.parse(line) as { url?: string | null }).url ?? '';
        } catch {
          // not JSON
        }
        started = true;
        clearTimeout(timer);
        resolveStart({
          name,
          url,
          async kill(signal: NodeJS.Signals = 'SIGKILL') {
            if (child.exitCode === null && child.signalCode === null) child.kill(signal);
            const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
            await exited;
            clearTimeout(t);
          },
        });
        return;
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
  });
}

let exitCode = 1;
try {
  const result = await runChaos(
    {
      milvusAddress: stackEnv.P2M_MILVUS_ADDRESS,
      spawn: spawnService,
      killComponent: async (name, signal) => {
        await killComponent(name, signal, { stateDir });
      },
      startComponent: async (name) => {
        const s = await startComponent(name, { stateDir, log: stackInput.log });
        if (s.health !== 'healthy') throw new Error(`${name} is ${s.health} after start: ${s.error ?? ''} (see ${s.log})`);
      },
      log,
    },
    {
      seed,
      count,
      faults,
      kinds,
      loaders: Number(values.loaders),
      tag: `${seed}_${Date.now().toString(36)}`,
      apiToken: `p2m-chaos-${randomBytes(18).toString('hex')}`,
      timeoutMs: 60 * 60_000,
      fetchPerSecond: Number(values['fetch-per-second'] ?? (count >= 100_000 ? 100 : 5)),
      // Milvus 2.3.5 has no sparse vectors.
      vectors: target === 'standalone' ? 'dense' : 'hybrid',
      // ...and its upsert ignores the partition key, so the plan refuses that mode there.
      partitions: target === 'standalone',
    },
  );
  log('chaos: faults injected (time since start, kind, what):');
  for (const f of result.injected) log(`  +${(f.elapsedMs / 1000).toFixed(1)}s  ${f.firedAt}  ${f.kind.padEnd(16)} ${f.detail}  (loaded ${f.loadedAtFire})`);
  for (const f of result.skipped) log(`  skipped ${f.kind} at ${f.atShare}: the job was already past loading`);
  log(
    `chaos: emulator answered ${JSON.stringify(result.emulator.statuses)}; injected ${result.emulator.errors} errors, ${result.emulator.drops} dropped connections, ${result.emulator.delayed} slow answers`,
  );
  const failures: string[] = [];
  if (result.status !== 'SUCCESSFUL') failures.push(`job ${result.jobId} is ${result.status}: ${JSON.stringify(result.error)}`);
  if (result.dlq !== 0) failures.push(`the DLQ holds ${result.dlq} records`);
  failures.push(...result.problems);
  const kindsSeen = new Set(result.injected.map((f) => f.kind));
  const missingKinds = kinds.filter((k) => !kindsSeen.has(k));
  if (missingKinds.length > 0 && faults >= kinds.length) failures.push(`fault kinds never injected while the job ran: ${missingKinds.join(', ')}`);
  if (failures.length === 0) {
    log(
      `chaos: PASSED seed ${seed} on Milvus ${target}: ${count} records, ${result.injected.length} faults, job SUCCESSFUL, DLQ empty, target equals source (${result.seconds} s)`,
    );
    exitCode = 0;
  } else {
    log(`chaos: FAILED seed ${seed} (replay: ${replay}):\n  ${failures.join('\n  ')}`);
  }
} catch (err) {
  log(`chaos: FAILED seed ${seed} (replay: ${replay}): ${err instanceof Error ? err.stack : errorMessage(err)}`);
} finally {
  if (!values['keep-stack']) await stackDown(stackInput).catch((err: unknown) => log(`stack down: ${errorMessage(err)}`));
  log(`service logs: ${logDir}`);
}
process.exit(exitCode);
