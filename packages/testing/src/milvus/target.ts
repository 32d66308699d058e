import {
  EtlError,
  parseNamespaceAndIdKey,
  primaryKeyOf,
  type CollectionPlan,
  type MilvusTarget,
  type RecordKey,
  type SinkAdmin,
  type SinkReader,
  type TargetCapabilities,
  type VectorRecord,
} from '@p2m/core';
import type { FakeMilvusServer, StoredRow } from './server.ts';
import { createFakeWriter } from './writer.ts';

/** One connection to an in-memory Milvus, seen through the three ports like the real adapter. */
export function createTarget(server: FakeMilvusServer): MilvusTarget {
  let closed = false;
  const use = (name: string): void => {
    if (closed) throw new EtlError('INTERNAL', `${name}: the connection is closed`, { retriable: false });
    server.call(name);
  };
  const admin = createAdmin(server, use);
  const reader = createReader(server, use);
  return {
    ...admin,
    ...reader,
    writer: (plan, options) => createFakeWriter(server, plan, options, use),
    close: async () => {
      closed = true;
    },
  };
}

function createAdmin(server: FakeMilvusServer, use: (name: string) => void): SinkAdmin {
  return {
    async capabilities(): Promise<TargetCapabilities> {
      use('capabilities');
      return structuredClone(server.capabilities);
    },
    async collectionExists(name: string): Promise<boolean> {
      use('collectionExists');
      return server.collections.has(name);
    },
    async createCollection(plan: CollectionPlan): Promise<void> {
      use('createCollection');
      const existing = server.collections.get(plan.collection);
      if (existing) {
        if (JSON.stringify(existing.plan?.fields) !== JSON.stringify(plan.fields)) {
          throw new EtlError('TARGET_COLLECTION_EXISTS', `collection "${plan.collection}" exists with another schema`, {
            retriable: false,
            field: 'target.collection',
          });
        }
        return;
      }
      server.collections.set(plan.collection, { plan, flushed: new Map(), unflushed: new Map(), indexes: new Set(), loaded: false });
    },
    async dropCollection(name: string): Promise<void> {
      use('dropCollection');
      server.collections.delete(name);
    },
  };
}

function createReader(server: FakeMilvusServer, use: (name: string) => void): SinkReader {
  /** Rows of a namespace as a query sees them; refused like a real server while the collection is not loaded. */
  const rowsOf = (plan: CollectionPlan, namespace: string | null): StoredRow[] => {
    const c = server.collection(plan.collection);
    if (!c.loaded && server.capabilities.queryNeedsLoad.value) {
      throw new EtlError('TARGET_UNSUPPORTED', `query on "${plan.collection}" failed: collection not loaded`, {
        retriable: false,
        hint: 'the collection must be indexed and loaded before it can be queried',
      });
    }
    return [...server.rows(plan.collection).values()].filter((r) => namespace === null || r.record.namespace === namespace);
  };
  const idOf = (plan: CollectionPlan, key: string): string => (plan.primaryKey === 'namespaceAndId' ? (parseNamespaceAndIdKey(key)?.id ?? key) : key);
  return {
    async flush(plan) {
      use('flush');
      server.flush(plan.collection);
    },
    async createIndexes(plan) {
      use('createIndexes');
      const c = server.collection(plan.collection);
      for (const index of plan.indexes) c.indexes.add(index.field);
    },
    async loadCollection(plan) {
      use('loadCollection');
      server.collection(plan.collection).loaded = true;
    },
    async countByNamespace(plan, namespaces) {
      use('countByNamespace');
      return new Map(namespaces.map((ns) => [ns, rowsOf(plan, ns).length]));
    },
    async listIds(plan, namespace, afterId, limit) {
      use('listIds');
      const ids = rowsOf(plan, namespace).map((r) => r.record.id);
      return ids
        .filter((id) => afterId === null || id > afterId)
        .sort()
        .slice(0, limit);
    },
    async getRecords(plan, namespace, ids): Promise<VectorRecord[]> {
      use('getRecords');
      const wanted = new Set(ids);
      return rowsOf(plan, namespace)
        .filter((r) => wanted.has(r.record.id))
        .map((r) => structuredClone(r.record));
    },
    async holdersOf(plan, ids) {
      use('holdersOf');
      const wanted = new Set(ids);
      const holders = new Map<string, string[]>();
      for (const [key, row] of server.rows(plan.collection)) {
        const id = idOf(plan, key);
        if (!wanted.has(id)) continue;
        holders.set(id, [...(holders.get(id) ?? []), row.record.namespace]);
      }
      return holders;
    },
    async countRows(plan) {
      use('countRows');
      return rowsOf(plan, null).length;
    },
    async readByKeys(plan, keys): Promise<VectorRecord[]> {
      use('readByKeys');
      const rows = rowsOf(plan, null);
      const byKey = new Map(rows.map((r) => [primaryKeyOf(plan, r.record.namespace, r.record.id), r]));
      const out: VectorRecord[] = [];
      for (const k of keys) {
        const row = byKey.get(primaryKeyOf(plan, k.namespace, k.id));
        // Partitions mode looks a key up in its namespace's partition only; the partition-key mode by primary key alone.
        if (!row || (plan.namespaceMode === 'partitions' && row.record.namespace !== k.namespace)) continue;
        out.push(structuredClone(row.record));
      }
      return out;
    },
    async *scanKeys(plan, pageSize = 1000): AsyncIterable<RecordKey[]> {
      use('scanKeys');
      const keys = rowsOf(plan, null)
        .map((r) => ({ pk: primaryKeyOf(plan, r.record.namespace, r.record.id), key: { namespace: r.record.namespace, id: r.record.id } }))
        .sort((a, b) => (a.pk < b.pk ? -1 : a.pk > b.pk ? 1 : 0))
        .map((k) => k.key);
      for (let i = 0; i < keys.length; i += pageSize) yield keys.slice(i, i + pageSize);
    },
  };
}
