import { Pinecone, type Index } from '@pinecone-database/pinecone';
import {
  EtlError,
  canonicalNamespace,
  type IndexDescription,
  type ListPage,
  type NamespaceInfo,
  type PineconeSourcePort,
  type SourceRequestRunner,
  type SourceVector,
} from '@p2m/core';
import { toIndexDescription } from './describe.ts';
import { toEtlError, type SourceOperation } from './errors.ts';
import { createGrpcFetcher, type GrpcFetcher } from './grpc-fetch.ts';
import { statusPreservingFetch } from './http.ts';

/**
 * The Pinecone source: the only code that talks to `@pinecone-database/pinecone`. It makes single
 * attempts and throws `EtlError`s; rate limits and retries belong to `pacedSource` (@p2m/core), which
 * wraps every source the services create, so the SDK's own retry (5xx only, and blind to 429) is
 * switched off to keep one policy in one place.
 */

export interface PineconeSourceOptions {
  apiKey: string;
  index: string;
  /** Control plane, e.g. `http://127.0.0.1:5080` for the emulator; Pinecone's API when absent. */
  controllerHostUrl?: string | undefined;
  /** Bound on one HTTP request (default 30 s); a request past it fails as TRANSIENT. */
  fetchTimeoutMs?: number | undefined;
  /** The fetch underneath the SDK (tests, proxies); the global `fetch` by default. */
  fetchApi?: typeof fetch | undefined;
  /**
   * How `fetch` reaches the index: `rest` through the official SDK (the default), or `grpc` over
   * Pinecone's gRPC data plane (grpc-fetch.ts). Env `P2M_PINECONE_TRANSPORT` when absent.
   */
  transport?: PineconeTransport | undefined;
}

export type PineconeTransport = 'rest' | 'grpc';

export function transportOf(option: string | undefined, env: NodeJS.ProcessEnv = process.env): PineconeTransport {
  const kind = option ?? (env['P2M_PINECONE_TRANSPORT'] || 'rest');
  if (kind !== 'rest' && kind !== 'grpc') {
    throw new EtlError('INTERNAL', `P2M_PINECONE_TRANSPORT must be "rest" or "grpc", got "${kind}"`, { retriable: false, field: 'P2M_PINECONE_TRANSPORT' });
  }
  return kind;
}

export const DEFAULT_FETCH_TIMEOUT_MS = 30_000;
/** Pinecone's maximum (and default) page size for list. */
export const LIST_PAGE_LIMIT = 100;
const NAMESPACES_PAGE_LIMIT = 100;

/** The wire name of a namespace: the SDK itself sends `__default__` for the default one. */
function wireNamespace(namespace: string): string {
  return namespace === '' ? '__default__' : namespace;
}

function count(value: unknown): number {
  // record_count is a string in API 2026-07 and a number before it.
  const n = typeof value === 'string' ? Number(value) : typeof value === 'number' ? value : NaN;
  return Number.isFinite(n) && n >= 0 ? n : 0;
}

export function createPineconeSource(options: PineconeSourceOptions): PineconeSourcePort {
  const indexName = options.index;
  const transport = transportOf(options.transport);
  const timeoutMs = options.fetchTimeoutMs ?? DEFAULT_FETCH_TIMEOUT_MS;
  if (!options.apiKey) {
    throw new EtlError('SOURCE_UNAUTHORIZED', 'no Pinecone API key was given', { retriable: false, field: 'source.apiKey', hint: 'set source.apiKey' });
  }
  const pc = new Pinecone({
    apiKey: options.apiKey,
    ...(options.controllerHostUrl ? { controllerHostUrl: options.controllerHostUrl } : {}),
    fetchApi: statusPreservingFetch(options.fetchApi ?? globalThis.fetch, timeoutMs),
    maxRetries: 0,
  });

  const call = async <T>(operation: SourceOperation, fn: () => Promise<T>, namespace?: string): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      throw toEtlError(err, { index: indexName, operation, namespace });
    }
  };

  const describeIndex = async (): Promise<IndexDescription> => {
    const model = await call('describe_index', () => pc.describeIndex(indexName));
    return toIndexDescription(model, indexName);
  };

  // The data-plane client, bound to the host we resolved ourselves: the SDK's own host cache is
  // process-global per (api key, index name) and would outlive an emulator restarted on another port.
  let target: Promise<{ index: Index; host: string }> | undefined;
  const dataTarget = (): Promise<{ index: Index; host: string }> => {
    target ??= describeIndex().then((d) => {
      if (!d.host) {
        throw new EtlError('TRANSIENT', `index "${indexName}" has no host yet (ready: ${String(d.ready)})`, { retriable: true });
      }
      return { index: pc.index({ name: indexName, host: d.host }), host: d.host };
    });
    const pending = target;
    void pending.catch(() => {
      if (target === pending) target = undefined; // resolve again on the next call
    });
    return pending;
  };
  const dataIndex = async (): Promise<Index> => (await dataTarget()).index;

  // One gRPC channel per index host (a host that changes, e.g. an emulator restarted elsewhere, gets a new one).
  let grpc: { host: string; fetcher: GrpcFetcher } | undefined;
  const grpcFetcher = async (): Promise<GrpcFetcher> => {
    const { host } = await dataTarget();
    if (grpc?.host !== host) {
      grpc?.fetcher.close();
      grpc = { host, fetcher: createGrpcFetcher({ host, apiKey: options.apiKey, timeoutMs }) };
    }
    return grpc.fetcher;
  };

  /** Every namespace from list_namespaces, page by page, or null where the server has no such operation. */
  const listAllNamespaces = async (idx: Index, run: SourceRequestRunner): Promise<NamespaceInfo[] | null> => {
    const found: NamespaceInfo[] = [];
    const seen = new Set<string>();
    let token: string | undefined;
    try {
      do {
        const paginationToken = token;
        const page = await run('list_namespaces', () =>
          call('list_namespaces', () => idx.listNamespaces({ limit: NAMESPACES_PAGE_LIMIT, ...(paginationToken ? { paginationToken } : {}) })),
        );
        for (const ns of page.namespaces ?? []) {
          if (typeof ns.name !== 'string') continue;
          found.push({ name: canonicalNamespace(ns.name), recordCount: count(ns.recordCount) });
        }
        const next = page.pagination?.next || undefined;
        if (next !== undefined && seen.has(next)) {
          throw new EtlError(
            'SOURCE_UNSUPPORTED',
            `list namespaces on index "${indexName}" returned a pagination token it had returned before; stopping rather than looping`,
            { retriable: false },
          );
        }
        if (next !== undefined) seen.add(next);
        token = next;
      } while (token !== undefined);
    } catch (err) {
      // Retriable trouble, a refused key and a looping server are real failures; anything else on the
      // first page means "not offered here" (an API version before 2025-04, or a server without it).
      const notOffered = err instanceof EtlError && !err.retriable && err.code !== 'SOURCE_UNAUTHORIZED' && seen.size === 0;
      if (!notOffered) throw err;
      return null;
    }
    return found;
  };

  /** describe_index_stats: one response with every namespace it reports (it may leave some out on very large indexes). */
  const namespacesFromStats = async (idx: Index, run: SourceRequestRunner): Promise<NamespaceInfo[]> => {
    const stats = await run('describe_index_stats', () => call('describe_index_stats', () => idx.describeIndexStats()));
    return Object.entries(stats.namespaces ?? {}).map(([name, summary]) => ({ name: canonicalNamespace(name), recordCount: count(summary.recordCount) }));
  };

  return {
    describeIndex,

    async listNamespaces(runRequest?: SourceRequestRunner): Promise<NamespaceInfo[]> {
      const run: SourceRequestRunner = runRequest ?? ((_operation, request) => request());
      const idx = await run('describe_index', () => dataIndex());
      const listed = (await listAllNamespaces(idx, run)) ?? (await namespacesFromStats(idx, run));
      const counts = new Map<string, number>();
      for (const ns of listed) counts.set(ns.name, ns.recordCount);
      return [...counts].map(([name, recordCount]) => ({ name, recordCount })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    },

    async listPage(namespace: string, paginationToken: string | null, limit = LIST_PAGE_LIMIT): Promise<ListPage> {
      const idx = await dataIndex();
      const res = await call(
        'list',
        () => idx.listPaginated({ namespace: wireNamespace(namespace), limit, ...(paginationToken ? { paginationToken } : {}) }),
        namespace,
      );
      const ids = (res.vectors ?? []).map((v) => v.id).filter((id): id is string => typeof id === 'string');
      return { ids, next: res.pagination?.next || null };
    },

    async fetch(namespace: string, ids: string[]): Promise<SourceVector[]> {
      if (ids.length === 0) return [];
      if (transport === 'grpc') {
        const fetcher = await call('fetch', grpcFetcher, namespace);
        // proto3's unset string, "", is the default namespace on the gRPC plane.
        return fetcher.fetch(namespace, ids, { index: indexName, operation: 'fetch', namespace });
      }
      const idx = await dataIndex();
      const res = await call('fetch', () => idx.fetch({ ids, namespace: wireNamespace(namespace) }), namespace);
      const out: SourceVector[] = [];
      const seen = new Set<string>();
      for (const id of ids) {
        // Own keys only: an absent id named "toString" or "constructor" would find Object.prototype's member.
        const r = Object.hasOwn(res.records, id) ? res.records[id] : undefined;
        if (!r || seen.has(id)) continue;
        seen.add(id);
        out.push({ id: r.id ?? id, values: r.values, sparseValues: r.sparseValues, metadata: r.metadata });
      }
      return out;
    },
  };
}
