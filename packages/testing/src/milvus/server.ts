import { EtlError, primaryKeyOf, type CollectionPlan, type TargetCapabilities, type VectorRecord } from '@p2m/core';
import { fullCapabilities } from '../capabilities.ts';

/** A row as the in-memory Milvus stores it. */
export interface StoredRow {
  record: VectorRecord;
  /** The Milvus partition it was written to (partitions mode). */
  partition: string | undefined;
}

export interface FakeCollection {
  /** null for a collection p2m did not make (`foreignCollection`). */
  plan: CollectionPlan | null;
  /** Rows a flush made durable. */
  flushed: Map<string, StoredRow>;
  /** Rows acknowledged since the last flush (queries see them; a restart of a Lite-like server loses them). */
  unflushed: Map<string, StoredRow>;
  indexes: Set<string>;
  loaded: boolean;
}

export interface InMemoryMilvusOptions {
  capabilities?: TargetCapabilities;
}

/** The server's state and failure modes; `InMemoryMilvus` (milvus.ts) adds the connections to it. */
export class FakeMilvusServer {
  readonly collections = new Map<string, FakeCollection>();
  capabilities: TargetCapabilities;
  /** While true, every call answers TARGET_UNAVAILABLE (retriable). */
  down = false;
  /** Bumped by every restart: a writer compares it to know whether its unflushed writes survived. */
  epoch = 0;
  /** Records the server refuses (as Milvus answers err_index), by predicate. */
  refuse: ((record: VectorRecord) => string | null) | null = null;
  /** Called after every upsert was applied (a test restarts the server there, before any flush). */
  onUpsert: (() => void) | null = null;
  /** Calls made, by name (what a test can assert on without a spy). */
  readonly calls = new Map<string, number>();

  constructor(options: InMemoryMilvusOptions = {}) {
    this.capabilities = options.capabilities ?? fullCapabilities();
  }

  /** A restart: a server without a write-ahead log forgets what it never flushed. */
  restart(): void {
    this.epoch++;
    if (this.capabilities.persistsAcknowledgedWrites.value === false) for (const c of this.collections.values()) c.unflushed.clear();
  }

  readonly #failures = new Map<string, unknown[]>();

  /** The next `count` calls named `name` (`createCollection`, `flush`, `write`, …) throw `error`. */
  failNext(name: string, error: unknown, count = 1): void {
    this.#failures.set(name, [...(this.#failures.get(name) ?? []), ...Array.from({ length: count }, () => error)]);
  }

  /** Forgets the failures still due for `name`. */
  clearFailures(name: string): void {
    this.#failures.delete(name);
  }

  call(name: string): void {
    this.calls.set(name, (this.calls.get(name) ?? 0) + 1);
    const failure = this.#failures.get(name)?.shift();
    if (failure !== undefined) throw failure;
    if (this.down) throw new EtlError('TARGET_UNAVAILABLE', `${name} failed: the in-memory Milvus is down (a simulated outage)`, { retriable: true });
  }

  collection(name: string): FakeCollection {
    const c = this.collections.get(name);
    if (!c)
      throw new EtlError('TARGET_UNAVAILABLE', `collection "${name}" does not exist`, {
        retriable: false,
        hint: 'create it first (SinkAdmin.createCollection)',
      });
    return c;
  }

  upsert(plan: CollectionPlan, partition: string | undefined, records: VectorRecord[]): void {
    const c = this.collection(plan.collection);
    const durable = this.capabilities.persistsAcknowledgedWrites.value === true;
    for (const record of records) {
      const row = { record, partition };
      const key = primaryKeyOf(plan, record.namespace, record.id);
      if (durable) c.flushed.set(key, row);
      else c.unflushed.set(key, row);
    }
    this.onUpsert?.();
  }

  flush(name: string): void {
    const c = this.collection(name);
    for (const [key, row] of c.unflushed) c.flushed.set(key, row);
    c.unflushed.clear();
  }

  /** Every row a query sees now: flushed ones overlaid with the unflushed ones. */
  rows(name: string): Map<string, StoredRow> {
    const c = this.collection(name);
    return new Map([...c.flushed, ...c.unflushed]);
  }

  /** A collection someone else made: p2m must refuse to write into it. */
  foreignCollection(name: string): void {
    this.collections.set(name, { plan: null, flushed: new Map(), unflushed: new Map(), indexes: new Set(), loaded: false });
  }

  /** Deletes a row behind the pipeline's back (what a verification must notice). */
  deleteRow(collection: string, key: string): void {
    const c = this.collection(collection);
    c.flushed.delete(key);
    c.unflushed.delete(key);
  }
}
