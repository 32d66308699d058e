import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { MilvusClient, type RowData } from '@zilliz/milvus2-sdk-node';
import type { VectorRecord } from '@p2m/core';
import { buildRow, createMilvusSink, type MilvusWriterKind } from '@p2m/milvus-sink';
import { benchPlan, DIM, type DatasetKind } from './dataset.ts';
import { CpuMeter, machineCpu, round2, secondsOf } from './proc.ts';

/**
 * The three ways to write the same rows into Milvus, each into a fresh collection, timed around
 * the writes only: the official Node SDK's row upsert, pymilvus with numpy arrays, and p2m's own
 * write path (`createMilvusSink().upsert`, gRPC column-wise or through the SDK). Then one flush,
 * timed on its own: Milvus Lite keeps acknowledged rows in memory until a flush (a SIGKILL loses
 * them), so `durableRowsPerSec` (writes + the flush) is the rate at which rows are actually stored,
 * which is what the pipeline on Lite measures (it commits offsets only after a flush).
 */
export interface SinkRun {
  method: string;
  batch: number;
  rows: number;
  seconds: number;
  rowsPerSec: number;
  /** CPU seconds of the writing client and of the Milvus server during the run. */
  clientCpuSeconds: number;
  serverCpuSeconds: number;
  /** 1-minute load average when the run ended (the machine is shared). */
  load1: number;
  /** The flush after the writes, and the rate counting it: rows stored, not just acknowledged. */
  flushSeconds: number;
  durableRowsPerSec: number;
}

function finish(method: string, batch: number, rows: number, seconds: number, cpu: Record<string, number>, client: number, flushSeconds: number): SinkRun {
  return {
    method,
    batch,
    rows,
    seconds: round2(seconds),
    rowsPerSec: Math.round(rows / seconds),
    clientCpuSeconds: round2(client),
    serverCpuSeconds: cpu['server'] ?? 0,
    load1: machineCpu().load1,
    flushSeconds: round2(flushSeconds),
    durableRowsPerSec: Math.round(rows / (seconds + flushSeconds)),
  };
}

const processCpu = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

/** `flush` flushes the collection and answers the seconds it took (the server's work is the same whoever asks). */
async function withCollection<T>(
  address: string,
  kind: DatasetKind,
  label: string,
  fn: (collection: string, flush: () => Promise<number>) => Promise<T>,
): Promise<T> {
  const collection = `bench_${label}_${Date.now().toString(36)}`;
  const sink = createMilvusSink({ address, timeoutMs: 300_000 });
  const plan = benchPlan(kind, collection, address);
  await sink.createCollection(plan);
  const flush = (): Promise<number> => secondsOf(() => sink.flush(plan));
  try {
    return await fn(collection, flush);
  } finally {
    await sink.dropCollection(collection).catch(() => undefined);
    await sink.close();
  }
}

/** The official SDK, rows as a user of the SDK holds them (number[] vectors, metadata keys in the row). */
export async function measureNodeSdk(address: string, kind: DatasetKind, records: VectorRecord[], batch: number, serverPid: number): Promise<SinkRun> {
  return withCollection(address, kind, `sdk${batch}`, async (collection, flush) => {
    const plan = benchPlan(kind, collection, address);
    const rows = records.map((r) => buildRow(plan, r)) as RowData[];
    const client = new MilvusClient({ address, logLevel: 'error', timeout: 120_000 });
    await client.connectPromise;
    try {
      // Warm the SDK's describeCollection cache and the JIT with one small write.
      await client.upsert({ collection_name: collection, data: rows.slice(0, 10) });
      const meter = new CpuMeter({ server: serverPid }).start();
      const c0 = processCpu();
      const t0 = performance.now();
      for (let i = 0; i < rows.length; i += batch) {
        const res = await client.upsert({ collection_name: collection, data: rows.slice(i, i + batch) });
        if (res.status.error_code !== 'Success' && Number(res.status.code) !== 0) throw new Error(`SDK upsert failed: ${res.status.reason}`);
      }
      const seconds = (performance.now() - t0) / 1000;
      const flushSeconds = await flush();
      return finish('node_sdk', batch, rows.length, seconds, meter.stop(), processCpu() - c0, flushSeconds);
    } finally {
      await client.closeConnection();
    }
  });
}

/** p2m's write path alone; `concurrency` upserts in flight (the loader runs one per process). */
export async function measureWriter(
  address: string,
  kind: DatasetKind,
  records: VectorRecord[],
  batch: number,
  serverPid: number,
  writer: MilvusWriterKind,
  concurrency = 1,
): Promise<SinkRun> {
  return withCollection(address, kind, `w${writer}${batch}`, async (collection, flush) => {
    const plan = benchPlan(kind, collection, address);
    const sink = createMilvusSink({ address, writer, timeoutMs: 120_000 });
    const write = sink.writer(plan, { flushBeforeCommit: false });
    try {
      await write.write({ records: records.slice(0, 10) }, 0);
      const meter = new CpuMeter({ server: serverPid }).start();
      const c0 = processCpu();
      const t0 = performance.now();
      let next = 0;
      const lane = async (): Promise<void> => {
        while (next < records.length) {
          const from = next;
          next += batch;
          await write.write({ records: records.slice(from, from + batch) }, 0);
        }
      };
      await Promise.all(Array.from({ length: concurrency }, lane));
      const seconds = (performance.now() - t0) / 1000;
      const flushSeconds = await flush();
      return finish(
        concurrency > 1 ? `writer_${writer}_x${concurrency}` : `writer_${writer}`,
        batch,
        records.length,
        seconds,
        meter.stop(),
        processCpu() - c0,
        flushSeconds,
      );
    } finally {
      await sink.close();
    }
  });
}

/**
 * pymilvus (the venv of the stack's Milvus Lite) with numpy arrays: the rows go to the script as a
 * raw float32 matrix plus one JSON line per row (id, namespace, metadata, sparse).
 */
export async function measurePymilvus(
  address: string,
  kind: DatasetKind,
  records: VectorRecord[],
  batches: number[],
  serverPid: number,
  python: string,
): Promise<SinkRun[]> {
  const dir = mkdtempSync(join(tmpdir(), 'p2m-bench-py-'));
  try {
    const matrix = Buffer.allocUnsafe(records.length * DIM * 4);
    records.forEach((r, i) => matrix.set(new Uint8Array(r.values!.buffer, r.values!.byteOffset, DIM * 4), i * DIM * 4));
    writeFileSync(join(dir, 'vectors.f32'), matrix);
    writeFileSync(
      join(dir, 'rows.jsonl'),
      records
        .map((r) =>
          JSON.stringify({
            id: r.id,
            namespace: r.namespace,
            metadata: r.metadata ?? {},
            ...(r.sparse ? { sparse: [r.sparse.indices, Array.from(r.sparse.values)] } : {}),
          }),
        )
        .join('\n'),
    );
    const out: SinkRun[] = [];
    for (const batch of batches) {
      out.push(
        await withCollection(address, kind, `py${batch}`, async (collection) => {
          const meter = new CpuMeter({ server: serverPid }).start();
          const result = await runPython(python, [
            join(import.meta.dirname, 'pymilvus_upsert.py'),
            '--uri',
            `http://${address}`,
            '--collection',
            collection,
            '--dir',
            dir,
            '--dim',
            String(DIM),
            '--batch',
            String(batch),
          ]);
          const cpu = meter.stop();
          const r = JSON.parse(result) as { rows: number; seconds: number; cpu_seconds: number; flush_seconds: number };
          return finish('pymilvus', batch, r.rows, r.seconds, cpu, r.cpu_seconds, r.flush_seconds);
        }),
      );
    }
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function runPython(python: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve(out.trim().split('\n').pop() ?? '') : reject(new Error(`pymilvus script exited ${code}: ${err.slice(-600)}`)),
    );
  });
}
