// Starts one real stack for the whole integration run, in .p2m-test/ on ports of its own so a
// user's `p2m stack` is never touched. Fails loudly when a server cannot start: an integration
// test must fail, not skip, when its server is down. P2M_KEEP_STACK=1 leaves it running (the
// next run then reuses it in a second or two).
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { TestProject } from 'vitest/node';
import type { MilvusStandalonePorts, StackPorts } from '@p2m/stack';
import { enabledComponents, procInfo, REPO_ROOT, selectTestStackProvider } from '@p2m/stack';
import type {} from './stack.ts';

const port = (name: string, fallback: number): number => Number(process.env[name] || fallback);

export const TEST_PORTS: StackPorts = {
  kafka: port('P2M_TEST_KAFKA_PORT', 19192),
  kafkaController: port('P2M_TEST_KAFKA_CONTROLLER_PORT', 19193),
  registry: port('P2M_TEST_REGISTRY_PORT', 18181),
  milvus: port('P2M_TEST_MILVUS_PORT', 19630),
  emulator: port('P2M_TEST_EMULATOR_PORT', 15180),
  controller: port('P2M_TEST_CONTROLLER_PORT', 18180),
};

/** The standalone server beside Lite: every port it opens, in 28000-28999 unless moved. */
export const TEST_STANDALONE_PORTS: MilvusStandalonePorts = {
  port: port('P2M_TEST_MILVUS_STANDALONE_PORT', 28530),
  etcdPort: port('P2M_TEST_MILVUS_STANDALONE_ETCD_PORT', 28579),
  metricsPort: port('P2M_TEST_MILVUS_STANDALONE_METRICS_PORT', 28591),
  internalPort: port('P2M_TEST_MILVUS_STANDALONE_INTERNAL_PORT', 28541),
};

/**
 * The servers tests share. The pipeline's own services are not in it by default: a test that
 * runs an extractor or loader in-process must not race stack-run copies for the same jobs.
 * P2M_TEST_STACK_COMPONENTS=kafka,registry,...,controller,extractor,loader widens it.
 * `milvus` is Milvus Lite; `milvus-standalone` the WAL-backed standalone server beside it (tests
 * for a real server's behaviour use it), started in parallel with the others.
 */
const COMPONENTS = (process.env.P2M_TEST_STACK_COMPONENTS || 'kafka,registry,milvus,milvus-standalone,emulator')
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean);

/**
 * Several test runs may share .p2m-test (engineers in one checkout): each holds a lease (a file
 * named by its pid), and the last one out stops the stack.
 */
function takeLease(stateDir: string): string {
  const dir = join(stateDir, 'leases');
  mkdirSync(dir, { recursive: true });
  const lease = join(dir, String(process.pid));
  writeFileSync(lease, new Date().toISOString());
  return lease;
}

function otherLiveLeases(stateDir: string): number[] {
  const dir = join(stateDir, 'leases');
  const live: number[] = [];
  for (const name of readdirSync(dir)) {
    const pid = Number(name);
    if (pid !== process.pid && procInfo(pid).running) live.push(pid);
    else if (pid !== process.pid) rmSync(join(dir, name), { force: true });
  }
  return live;
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // The emulator (and services) join once their commands exist in this checkout.
  const enabled = enabledComponents();
  const components = COMPONENTS.filter((name) => enabled.includes(name.replace(/-\d+$/, '')));
  const stateDir = resolve(REPO_ROOT, '.p2m-test');
  const lease = takeLease(stateDir);
  const provider = await selectTestStackProvider({
    stateDir,
    ports: TEST_PORTS,
    milvusStandalone: TEST_STANDALONE_PORTS,
    components,
    loaders: Number(process.env.P2M_TEST_LOADERS || 2),
    log: (line) => process.stderr.write(`[test stack] ${line}\n`),
  });
  const started = Date.now();
  try {
    const stack = await provider.start();
    project.provide('p2mStack', stack);
    process.stderr.write(
      `[test stack] ${provider.kind} stack ready in ${((Date.now() - started) / 1000).toFixed(1)} s: ${components.join(', ')} (state in ${stack.stateDir})\n`,
    );
  } catch (err) {
    rmSync(lease, { force: true });
    if (process.env.P2M_KEEP_STACK !== '1' && otherLiveLeases(stateDir).length === 0) await provider.stop().catch(() => undefined);
    throw err;
  }
  return async () => {
    rmSync(lease, { force: true });
    if (process.env.P2M_KEEP_STACK === '1') return;
    const others = otherLiveLeases(stateDir);
    if (others.length > 0) {
      process.stderr.write(`[test stack] left running: other test runs use it (pids ${others.join(', ')})\n`);
      return;
    }
    await provider.stop();
    // Each run starts from empty servers; only the logs of the last run stay for debugging.
    for (const entry of readdirSync(stateDir)) {
      if (entry !== 'logs') rmSync(join(stateDir, entry), { recursive: true, force: true });
    }
  };
}
