import { performance } from 'node:perf_hooks';
import { MilvusClient, type RowData } from '@zilliz/milvus2-sdk-node';
import type { PineconeSourcePort, SourceVector } from '@p2m/core';
import { callWithBudget, createSourceBudgets } from '@p2m/extractor';
import { createMilvusSink } from '@p2m/milvus-sink';
import { createPineconeSource } from '@p2m/pinecone-source';
import { benchPlan, NAMESPACES, type DatasetKind } from './dataset.ts';
import { CpuMeter, round2, secondsOf } from './proc.ts';

const namespaces = Array.from({ length: NAMESPACES }, (_, j) => (j === 0 ? '' : `ns-${j}`));
const RATE_LIMITS = { listPerSecond: 200, fetchPerSecond: 100 };

export interface SourceRun {
  rows: number;
  seconds: number;
  rowsPerSec: number;
  listCalls: number;
  fetchCalls: number;
  cpuSeconds: Record<string, number>;
  /** Direct copy only: the flush after the last upsert, and the rate counting it (rows stored). */
  flushSeconds?: number;
  durableRowsPerSec?: number;
}

/**
 * How fast the source can be read at all: p2m's Pinecone adapter (official SDK), every namespace's
 * list chain at once (a list page needs the previous page's token), each page's fetch started as
 * soon as it is listed, both within the same rate budgets the extractor uses. No Kafka, no sink.
 */
export async function measureSourceCeiling(opts: {
  controllerHostUrl: string;
  apiKey: string;
  index: string;
  fetchIds: number;
  maxFetchesInFlight: number;
  pids: Record<string, number>;
}): Promise<SourceRun> {
  const source = createPineconeSource({ apiKey: opts.apiKey, index: opts.index, controllerHostUrl: opts.controllerHostUrl });
  await source.describeIndex();
  const budgets = createSourceBudgets(RATE_LIMITS);
  let rows = 0;
  let listCalls = 0;
  let fetchCalls = 0;
  const inFlight = new Set<Promise<void>>();
  const fetch = (ns: string, ids: string[]): Promise<void> => {
    const p: Promise<void> = callWithBudget(budgets.fetch, () => source.fetch(ns, ids)).then((v) => {
      fetchCalls++;
      rows += v.length;
      inFlight.delete(p);
    });
    inFlight.add(p);
    return p;
  };
  const meter = new CpuMeter(opts.pids).start();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(
    namespaces.map(async (ns) => {
      let token: string | null = null;
      let pending: string[] = [];
      do {
        const page = await callWithBudget(budgets.list, () => source.listPage(ns, token, 100));
        listCalls++;
        pending.push(...page.ids);
        token = page.next;
        while (pending.length >= opts.fetchIds || (token === null && pending.length > 0)) {
          while (inFlight.size >= opts.maxFetchesInFlight) await Promise.race(inFlight);
          void fetch(ns, pending.slice(0, opts.fetchIds));
          pending = pending.slice(opts.fetchIds);
        }
      } while (token !== null);
    }),
  );
  await Promise.all(inFlight);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = meter.stop();
  const own = process.cpuUsage(c0);
  return {
    rows,
    seconds: round2(seconds),
    rowsPerSec: Math.round(rows / seconds),
    listCalls,
    fetchCalls,
    cpuSeconds: { client: round2((own.user + own.system) / 1e6), ...cpu },
  };
}

/**
 * How console-style tools copy: one process, one page at a time — list 100 ids, fetch them, upsert
 * them as rows with the official Milvus SDK, next page — namespace after namespace, until `limit`
 * records are copied.
 */
export async function measureDirectCopy(opts: {
  controllerHostUrl: string;
  apiKey: string;
  index: string;
  kind: DatasetKind;
  address: string;
  limit: number;
  pids: Record<string, number>;
}): Promise<SourceRun> {
  const source: PineconeSourcePort = createPineconeSource({ apiKey: opts.apiKey, index: opts.index, controllerHostUrl: opts.controllerHostUrl });
  await source.describeIndex();
  const collection = `bench_direct_${Date.now().toString(36)}`;
  const sink = createMilvusSink({ address: opts.address });
  const plan = benchPlan(opts.kind, collection, opts.address);
  await sink.createCollection(plan);
  const client = new MilvusClient({ address: opts.address, logLevel: 'error', timeout: 120_000 });
  await client.connectPromise;
  const budgets = createSourceBudgets(RATE_LIMITS);
  let rows = 0;
  let listCalls = 0;
  let fetchCalls = 0;
  const toRow = (ns: string, v: SourceVector): RowData => {
    const row: RowData = { ...(v.metadata ?? {}), id: v.id, namespace: ns, vector: Array.from(v.values ?? []) };
    if (opts.kind === 'hybrid') row['sparse_vector'] = { indices: Array.from(v.sparseValues?.indices ?? []), values: Array.from(v.sparseValues?.values ?? []) };
    return row;
  };
  const meter = new CpuMeter(opts.pids).start();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  try {
    for (const ns of namespaces) {
      let token: string | null = null;
      do {
        const page = await callWithBudget(budgets.list, () => source.listPage(ns, token, 100));
        listCalls++;
        const vectors = await callWithBudget(budgets.fetch, () => source.fetch(ns, page.ids));
        fetchCalls++;
        const res = await client.upsert({ collection_name: collection, data: vectors.map((v) => toRow(ns, v)) });
        if (res.status.error_code !== 'Success' && Number(res.status.code) !== 0) throw new Error(`upsert failed: ${res.status.reason}`);
        rows += vectors.length;
        token = page.next;
      } while (token !== null && rows < opts.limit);
      if (rows >= opts.limit) break;
    }
    const seconds = (performance.now() - t0) / 1000;
    const own = process.cpuUsage(c0);
    const cpuSeconds = { client: round2((own.user + own.system) / 1e6), ...meter.stop() };
    const flushSeconds = await secondsOf(() => sink.flush(plan));
    return {
      rows,
      seconds: round2(seconds),
      rowsPerSec: Math.round(rows / seconds),
      listCalls,
      fetchCalls,
      cpuSeconds,
      flushSeconds: round2(flushSeconds),
      durableRowsPerSec: Math.round(rows / (seconds + flushSeconds)),
    };
  } finally {
    await client.closeConnection();
    await sink.dropCollection(collection).catch(() => undefined);
    await sink.close();
  }
}
