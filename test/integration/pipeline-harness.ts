// Shared by the migration integration tests: a real pipeline (the composition root the services
// and `p2m migrate` use) against the test stack's Kafka, registry and Milvus, reading an
// in-process Pinecone emulator seeded with deterministic data.
import { createWriteStream, mkdirSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { expect } from 'vitest';
import { createLogger, readConfig, RuntimeConfigSchema, TERMINAL_STATUSES, type CollectionPlan, type JobView, type VectorRecord } from '@p2m/core';
import { generateRecords, seedIndex, startEmulator, type Emulator, type GeneratorOptions } from '@p2m/emulator';
import { createMilvusSink } from '@p2m/milvus-sink';
import { startRuntime, type Roles, type Runtime } from '@p2m/cli';
import { getTestStack } from './stack.ts';
import { toVectorRecord } from '../../bench/lib/dataset.ts';

export const API_KEY = 'test-api-key-0123456789';
// One fixed key for every integration run: test runs that share the test stack (several engineers,
// one checkout) run workers that follow every job on the board, and a worker that cannot open a
// job's sealed secrets fails that job. Spawned services (processes.ts) get the same key.
export const SECRET_KEY = process.env.P2M_TEST_SECRET_KEY ?? 'p2m-integration-test-secret-key-not-for-production';

export function runtimeConfig() {
  const stack = getTestStack();
  return readConfig(RuntimeConfigSchema, {
    P2M_KAFKA_BROKERS: stack.kafka.brokers.join(','),
    P2M_REGISTRY_URL: stack.registry.url,
    P2M_SECRET_KEY: SECRET_KEY,
    P2M_LOG_LEVEL: process.env.P2M_TEST_LOG_LEVEL ?? 'error',
    P2M_SINK_DEADLINE_MS: '60000',
  });
}

/**
 * The in-process runtimes' log, warnings and up (P2M_TEST_LOG_LEVEL), one file per test file under
 * test-artifacts/logs/ as the spawned services' logs are: a loader's rewrites and failed flushes
 * are warnings, and a failed run is read from them.
 */
let inProcessLogger: ReturnType<typeof createLogger> | undefined;
function runtimeLogger(): ReturnType<typeof createLogger> {
  if (!inProcessLogger) {
    const dir = resolve(import.meta.dirname, '../../test-artifacts/logs');
    mkdirSync(dir, { recursive: true });
    const testFile = basename(expect.getState().testPath ?? 'unknown').replace(/\.test\.ts$/, '');
    const stream = createWriteStream(resolve(dir, `in-process-${testFile}-${process.pid}.log`), { flags: 'a' });
    inProcessLogger = createLogger('p2m', { level: process.env.P2M_TEST_LOG_LEVEL ?? 'warn' }, stream);
  }
  return inProcessLogger;
}

export async function startPipeline(roles: Roles = { controller: {}, extractor: true, loaders: 2 }): Promise<Runtime> {
  return startRuntime(runtimeConfig(), roles, { logger: runtimeLogger() });
}

export async function startSeededEmulator(
  index: string,
  data: GeneratorOptions & { metric?: 'cosine' | 'euclidean' | 'dotproduct' },
  options: Parameters<typeof startEmulator>[0] = {},
): Promise<Emulator> {
  const emulator = await startEmulator({ port: 0, apiKey: API_KEY, rateLimits: false, ...options });
  await seedIndex({ ...data, index, url: emulator.controllerHostUrl, apiKey: API_KEY, concurrency: 4 });
  return emulator;
}

export function milvusAddress(): string {
  return getTestStack().milvus.address;
}

export async function waitForStatus(runtime: Runtime, id: string, statuses: string[] = [...TERMINAL_STATUSES], timeoutMs = 600_000): Promise<JobView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const view = await runtime.jobs!.get(id);
    if (statuses.includes(view.status)) return view;
    if (Date.now() > deadline) throw new Error(`job ${id} still ${view.status} after ${timeoutMs} ms: ${JSON.stringify(view.progress.total)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

export function uniqueName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${Math.floor(Math.random() * 1e6).toString(36)}`;
}

/**
 * The whole target compared with the whole source, record by record: the same ids in each
 * namespace, dense values as exact float32, sparse exactly, metadata deep-equal.
 */
export async function expectTargetEqualsSource(
  plan: CollectionPlan,
  source: GeneratorOptions,
  excluded: ReadonlySet<string> = new Set(),
  address = milvusAddress(),
): Promise<void> {
  const expected = new Map<string, Map<string, VectorRecord>>();
  for (const g of generateRecords(source)) {
    if (excluded.has(`${g.namespace}\u0000${g.id}`)) continue;
    let byId = expected.get(g.namespace);
    if (!byId) expected.set(g.namespace, (byId = new Map()));
    byId.set(g.id, toVectorRecord(g));
  }
  const sink = createMilvusSink({ address });
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
      expect(new Set(ids).size, `distinct ids in namespace "${ns}"`).toBe(ids.length);
      expect([...ids].sort(), `ids of namespace "${ns}"`).toEqual([...byId.keys()].sort());
      for (let i = 0; i < ids.length; i += 1000) {
        const got = await sink.getRecords(plan, ns, ids.slice(i, i + 1000));
        expect(got.length).toBe(Math.min(1000, ids.length - i));
        for (const have of got) {
          const want = byId.get(have.id)!;
          expect(have.namespace).toBe(ns);
          if (plan.hasDense) expect(Array.from(have.values ?? []), `dense ${ns}/${have.id}`).toEqual(Array.from(want.values ?? []));
          if (plan.hasSparse) {
            const norm = (s: VectorRecord['sparse']) => (s ? s.indices.map((x, j) => [x, s.values[j]]).sort((a, b) => a[0]! - b[0]!) : []);
            expect(norm(have.sparse), `sparse ${ns}/${have.id}`).toEqual(norm(want.sparse));
          }
          expect(have.metadata ?? {}, `metadata ${ns}/${have.id}`).toEqual(want.metadata ?? {});
        }
      }
    }
  } finally {
    await sink.close();
  }
}

/**
 * Source records Milvus can never store, by Milvus's documented rules (stated here independently
 * of the code under test): sparse weights must be non-negative and indices below 2^32-1.
 */
export function unloadableBySparseRules(source: GeneratorOptions): Set<string> {
  const out = new Set<string>();
  for (const g of generateRecords(source)) {
    const s = g.sparseValues;
    if (s && (s.values.some((v) => v < 0) || s.indices.some((i) => i >= 4294967295))) out.add(`${g.namespace}\u0000${g.id}`);
  }
  return out;
}
