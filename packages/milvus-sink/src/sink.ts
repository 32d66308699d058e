import { EtlError, type CollectionPlan, type MilvusTarget, type SinkWriterOptions } from '@p2m/core';
import { createAdmin } from './admin.ts';
import { openConnection, type MilvusConnection, type MilvusSinkOptions } from './connection.ts';
import { createReader } from './reader.ts';
import { createWriter } from './writer.ts';

/**
 * The Milvus / Zilliz Cloud adapter (`MilvusTarget`), the only code that imports the Milvus SDK.
 * One connection, seen through three ports: the controller's set-up (admin: capabilities, the
 * collection), the loader (writer: write, preCommit), verification (reader). It writes against
 * Milvus semantics and guards for Milvus Lite's deviations where they differ (see README.md).
 */
export function createMilvusSink(options: MilvusSinkOptions): MilvusTarget {
  const conn = openConnection(options);
  return sinkOver(conn, options.token, () => conn.close());
}

/** The three ports over `conn`; `close` is what closing the sink does to the connection. */
function sinkOver(conn: MilvusConnection, token: string | undefined, close: () => Promise<void>): MilvusTarget {
  const admin = createAdmin(conn, token);
  const reader = createReader(conn);
  return {
    ...admin,
    ...reader,
    writer: (plan: CollectionPlan, writerOptions: SinkWriterOptions) => createWriter(conn, plan, reader, writerOptions),
    close,
  };
}

/** Sinks that share one connection per target; see `createSinkPool`. */
export interface SinkPool {
  /** A sink over the target's shared connection; its `close` gives the connection back. */
  sink(options: MilvusSinkOptions): MilvusTarget;
  /** Closes every connection, in use or not (the process is stopping). */
  close(): Promise<void>;
  /** Connections open now (tests read it). */
  readonly size: number;
}

/**
 * For a process that opens many short-lived sinks on the same targets: the controller opens one to
 * plan a job, one to check its collection name, one to set it up, one per verification attempt.
 * Each Milvus SDK client compiles Milvus's protocol descriptors when it is made: 0.4–0.7 s of CPU
 * on a 2-core machine (measured), more than the controller spends on a 20,000-record job otherwise.
 * Here the sinks of one target (address, token, TLS) share one connection; it is closed `idleMs`
 * after its last sink was closed. The loader keeps its own connection per job (its writer's
 * durability check follows that connection's life).
 */
export function createSinkPool(options: { idleMs?: number } = {}): SinkPool {
  const idleMs = options.idleMs ?? 60_000;
  const pool = new Map<string, { conn: MilvusConnection; leases: number; idle: NodeJS.Timeout | null }>();
  let closed = false;
  const retire = (key: string): void => {
    const entry = pool.get(key);
    if (!entry || entry.leases > 0) return;
    pool.delete(key);
    void entry.conn.close();
  };
  return {
    sink(sinkOptions) {
      if (closed) throw new EtlError('INTERNAL', 'the Milvus sink pool is closed');
      const key = JSON.stringify([sinkOptions.address, sinkOptions.token ?? '', sinkOptions.ssl ?? null, sinkOptions.writer ?? null]);
      let entry = pool.get(key);
      if (!entry) pool.set(key, (entry = { conn: openConnection(sinkOptions), leases: 0, idle: null }));
      const lease = entry;
      lease.leases += 1;
      if (lease.idle) clearTimeout(lease.idle);
      lease.idle = null;
      let released = false;
      return sinkOver(lease.conn, sinkOptions.token, async () => {
        if (released) return;
        released = true;
        lease.leases -= 1;
        if (lease.leases > 0 || closed || pool.get(key) !== lease) return;
        lease.idle = setTimeout(() => retire(key), idleMs);
        lease.idle.unref();
      });
    },
    async close() {
      closed = true;
      const entries = [...pool.values()];
      pool.clear();
      for (const entry of entries) if (entry.idle) clearTimeout(entry.idle);
      await Promise.all(entries.map((entry) => entry.conn.close()));
    },
    get size() {
      return pool.size;
    },
  };
}
