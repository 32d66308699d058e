// One index: its configuration, its namespaces and (with a data dir) its log and metadata file.
// Every data change goes through `apply`, first to the log, then to memory, so that replaying
// the log at start rebuilds exactly the state clients saw acknowledged.

import fs from 'node:fs';
import path from 'node:path';
import type { Metric, VectorType } from '../validation.ts';
import { NamespaceStore } from './namespace-store.ts';
import type { StoredRecord } from './namespace-store.ts';
import { Wal, fsyncDir } from './wal.ts';
import type { FsyncPolicy, WalOp } from './wal.ts';

export type Deployment =
  { type: 'serverless'; cloud: string; region: string } | { type: 'pod'; environment: string; podType: string; pods: number; replicas: number; shards: number };

/** A serverless index's read capacity: on demand (the default) or dedicated read nodes. */
export type ReadCapacity = { mode: 'OnDemand' } | { mode: 'Dedicated'; nodeType: string; scaling: string; replicas: number; shards: number };

export interface IndexConfig {
  name: string;
  /** 0 for a sparse index. */
  dimension: number;
  metric: Metric;
  vectorType: VectorType;
  deployment: Deployment;
  deletionProtection: 'enabled' | 'disabled';
  tags: Record<string, string>;
  /** Absent: OnDemand (also what index.json files written before read capacity hold). */
  readCapacity?: ReadCapacity;
  createdAt: string;
  /** Data-plane port; kept across restarts when it is free. */
  port?: number;
}

/** The default namespace is `""` on the wire in most places and `__default__` in namespace APIs. */
export const DEFAULT_NAMESPACE_NAME = '__default__';

export function namespaceKey(name: string | undefined | null): string {
  return !name || name === DEFAULT_NAMESPACE_NAME ? '' : name;
}

export class IndexStore {
  config: IndexConfig;
  readonly namespaces = new Map<string, NamespaceStore>();
  private wal: Wal | undefined;
  private readonly dir: string | undefined;

  private constructor(config: IndexConfig, dir: string | undefined) {
    this.config = config;
    this.dir = dir;
  }

  static create(config: IndexConfig, dataDir: string | undefined, fsync: FsyncPolicy): IndexStore {
    const dir = dataDir ? indexDir(dataDir, config.name) : undefined;
    const store = new IndexStore(config, dir);
    if (dir) {
      fs.mkdirSync(dir, { recursive: true });
      store.saveConfig();
      store.wal = Wal.open(path.join(dir, 'records.wal'), config.dimension, fsync, () => undefined);
    }
    return store;
  }

  /**
   * Loads every index saved under `dataDir`, replaying its log. A log larger than
   * `compactAboveBytes` and more than twice the live data is rewritten as a snapshot.
   */
  static loadAll(dataDir: string, fsync: FsyncPolicy, compactAboveBytes = 64 * 1024 * 1024): IndexStore[] {
    const root = path.join(dataDir, 'indexes');
    if (!fs.existsSync(root)) return [];
    const out: IndexStore[] = [];
    for (const name of fs.readdirSync(root).sort()) {
      const dir = path.join(root, name);
      const configFile = path.join(dir, 'index.json');
      if (!fs.existsSync(configFile)) continue; // a half-created or half-deleted index
      const config = JSON.parse(fs.readFileSync(configFile, 'utf8')) as IndexConfig;
      const store = new IndexStore(config, dir);
      store.wal = Wal.open(path.join(dir, 'records.wal'), config.dimension, fsync, (op) => store.applyInMemory(op));
      store.compactIfWasteful(compactAboveBytes);
      out.push(store);
    }
    return out;
  }

  get name(): string {
    return this.config.name;
  }

  get totalCount(): number {
    let n = 0;
    for (const ns of this.namespaces.values()) n += ns.count;
    return n;
  }

  namespace(name: string): NamespaceStore | undefined {
    return this.namespaces.get(namespaceKey(name));
  }

  /** Logs then applies a data operation. */
  apply(op: WalOp): void {
    this.wal?.append(op, this.config.dimension);
    this.applyInMemory(op);
  }

  upsert(ns: string, records: StoredRecord[]): void {
    this.apply({ op: 'upsert', ns: namespaceKey(ns), records });
  }

  updateConfig(patch: Partial<IndexConfig>): void {
    this.config = { ...this.config, ...patch };
    this.saveConfig();
  }

  close(): void {
    this.wal?.close();
    this.wal = undefined;
  }

  /** Closes and removes the index's files. */
  destroy(): void {
    this.close();
    if (this.dir) {
      // Remove the config first so that a crash half way leaves nothing that looks like an index.
      fs.rmSync(path.join(this.dir, 'index.json'), { force: true });
      fs.rmSync(this.dir, { recursive: true, force: true });
    }
  }

  flush(): void {
    this.wal?.flush();
  }

  private applyInMemory(op: WalOp): void {
    const key = namespaceKey(op.ns);
    switch (op.op) {
      case 'upsert': {
        let ns = this.namespaces.get(key);
        if (!ns) {
          ns = new NamespaceStore(this.config.dimension);
          this.namespaces.set(key, ns);
        }
        for (const r of op.records) ns.upsert(r);
        break;
      }
      case 'delete': {
        const ns = this.namespaces.get(key);
        if (!ns) break;
        for (const id of op.ids) ns.delete(id);
        this.dropIfPodAndEmpty(key, ns);
        break;
      }
      case 'deleteAll': {
        const ns = this.namespaces.get(key);
        if (!ns) break;
        ns.clear();
        this.dropIfPodAndEmpty(key, ns);
        break;
      }
      case 'createNamespace': {
        let ns = this.namespaces.get(key);
        if (!ns) {
          ns = new NamespaceStore(this.config.dimension);
          this.namespaces.set(key, ns);
        }
        if (op.schema !== undefined) ns.schema = op.schema;
        break;
      }
      case 'deleteNamespace':
        this.namespaces.delete(key);
        break;
    }
  }

  /**
   * A serverless namespace is an object of its own: it stays when its last record is deleted
   * (deleting there again succeeds) until delete_namespace. A pod index's namespaces exist only
   * through their records.
   */
  private dropIfPodAndEmpty(key: string, ns: NamespaceStore): void {
    if (ns.count === 0 && this.config.deployment.type === 'pod') this.namespaces.delete(key);
  }

  private saveConfig(): void {
    if (!this.dir) return;
    const file = path.join(this.dir, 'index.json');
    const tmp = `${file}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(this.config, null, 2));
    const fd = fs.openSync(tmp, 'r');
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fs.renameSync(tmp, file);
    fsyncDir(this.dir);
  }

  private compactIfWasteful(minBytes: number): void {
    if (!this.wal) return;
    let live = 0;
    for (const ns of this.namespaces.values()) live += ns.liveBytes;
    if (this.wal.size < minBytes || this.wal.size < 2 * live) return;
    this.wal.rewrite(this.snapshot(), this.config.dimension);
  }

  private *snapshot(): IterableIterator<WalOp> {
    for (const [key, ns] of this.namespaces) {
      // Every namespace, so that an emptied one and a schema survive the rewrite.
      yield ns.schema === null ? { op: 'createNamespace', ns: key } : { op: 'createNamespace', ns: key, schema: ns.schema };
      let batch: StoredRecord[] = [];
      for (const slot of ns.slots()) {
        batch.push(ns.recordAt(slot));
        if (batch.length === 1000) {
          yield { op: 'upsert', ns: key, records: batch };
          batch = [];
        }
      }
      if (batch.length > 0) yield { op: 'upsert', ns: key, records: batch };
    }
  }
}

function indexDir(dataDir: string, name: string): string {
  return path.join(dataDir, 'indexes', name);
}
