// startEmulator: the control plane on one port and one data-plane server per index, each on its
// own port, so that `host` is a plain `http://127.0.0.1:PORT` like a real index host (the SDKs
// use the host as the base URL of every data call). With a fixed control port P, index ports are
// taken from P+1 upwards (as Pinecone Local does) and kept across restarts when still free.

import http from 'node:http';
import http2 from 'node:http2';
import os from 'node:os';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type net from 'node:net';
import { parseApiVersion, DEFAULT_API_VERSION } from './api-version.ts';
import type { ApiVersion } from './api-version.ts';
import { handleControl, routeControl } from './control-plane.ts';
import type { IndexRegistry } from './control-plane.ts';
import { handleData, routeData } from './data-plane.ts';
import { ApiError, sendControlError, sendDataError, sendJson, sendText } from './errors.ts';
import { FaultInjector } from './faults.ts';
import {
  DualProtocolServer,
  decodeFetchRequest,
  encodeFetchResponse,
  grpcCodeOf,
  GRPC,
  readStream,
  sendGrpcError,
  sendGrpcMessage,
  unframe,
} from './grpc-plane.ts';
import { FormatPool } from './format-pool.ts';
import type { FaultConfig } from './faults.ts';
import { apiKeyOf, parseJsonBody, readBody } from './http-request.ts';
import { RateLimiter } from './rate-limit.ts';
import type { RateLimits } from './rate-limit.ts';
import { IndexStore, namespaceKey } from './store/index-store.ts';
import type { Deployment, IndexConfig } from './store/index-store.ts';
import type { FsyncPolicy } from './store/wal.ts';
import { ValuesArena, parseVector } from './validation.ts';
import type { Metric } from './validation.ts';

export interface EmulatorOptions {
  /** Control-plane port (default 5080); 0 picks free ports for the control plane and every index. */
  port?: number;
  /** Bind address (default 127.0.0.1). */
  host?: string;
  /** The one API key accepted (default "pclocal"). */
  apiKey?: string;
  /** Keep indexes and records here across restarts (default: in memory only). */
  dataDir?: string;
  /** When log writes reach the disk (default 'interval': at most 1 s of acknowledged writes lost on power loss). */
  fsync?: FsyncPolicy;
  /** Per-index request budgets; default Pinecone's serverless limits; `false` for none. */
  rateLimits?: RateLimits | false;
  /** Faults to inject from the start. */
  faults?: FaultConfig;
  /** Seed of the fault-injection PRNG (default 1). */
  seed?: number;
  /** Called with one line per request when set. */
  log?: (line: string) => void;
  /**
   * Worker threads that format fetch responses (default: 1 on machines with 4 cores or more,
   * else 0 = on the main thread; on 2 cores shared with the client the extra thread cost more
   * CPU than it saved).
   */
  formatThreads?: number;
}

export interface CreateIndexSpec {
  name: string;
  /** Required for dense indexes. */
  dimension?: number;
  metric?: Metric;
  vectorType?: 'dense' | 'sparse';
  /** A pod-based index (what 2026-07 can no longer create through the API). */
  pod?: boolean | { environment?: string; podType?: string; replicas?: number; shards?: number };
  cloud?: string;
  region?: string;
  deletionProtection?: 'enabled' | 'disabled';
  tags?: Record<string, string>;
}

/** A record for `load`: the upsert `Vector` shape plus an optional namespace. */
export interface RecordInput {
  namespace?: string;
  id: string;
  values?: ArrayLike<number>;
  sparseValues?: { indices: ArrayLike<number>; values: ArrayLike<number> };
  metadata?: Record<string, unknown>;
}

export interface EmulatorStats {
  requests: Record<string, number>;
  statuses: Record<string, number>;
  rateLimited: number;
  faults: { errors: number; drops: number; delayed: number };
  indexes: Record<string, { host: string; records: number; namespaces: Record<string, number> }>;
}

export interface Emulator {
  /** `http://127.0.0.1:PORT` of the control plane: `new Pinecone({ apiKey, controllerHostUrl })`. */
  readonly controllerHostUrl: string;
  readonly port: number;
  readonly apiKey: string;
  /** The data-plane URL of an index, as describe_index returns it. */
  indexHost(name: string): string | undefined;
  createIndex(spec: CreateIndexSpec): Promise<{ name: string; host: string }>;
  deleteIndex(name: string): Promise<void>;
  /** Validates and stores records directly, without HTTP, rate limits or faults; returns how many. */
  load(index: string, records: Iterable<RecordInput>): number;
  setFaults(config: FaultConfig): void;
  setRateLimits(limits: RateLimits | false): void;
  stats(): EmulatorStats;
  /** Forces logged writes to disk now. */
  flush(): void;
  close(): Promise<void>;
}

interface IndexEntry {
  store: IndexStore;
  /** REST and gRPC on one port. */
  server: DualProtocolServer;
  port: number;
  host: string;
}

/** What an injected error fault says, on either plane. */
const faultMessage = (status: number): string => (status === 503 ? 'Service Unavailable (injected fault)' : 'Internal server error (injected fault)');

const MAX_HEADER_BYTES = 4 * 1024 * 1024; // fetch puts up to 1,000 URL-encoded ids in the query string

export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const bind = options.host ?? '127.0.0.1';
  const apiKey = options.apiKey ?? 'pclocal';
  const fsync = options.fsync ?? 'interval';
  const limiter = new RateLimiter(options.rateLimits);
  const faults = new FaultInjector(options.faults, options.seed ?? 1);
  const indexes = new Map<string, IndexEntry>();
  const counters = { requests: {} as Record<string, number>, statuses: {} as Record<string, number>, rateLimited: 0 };
  const log = options.log;
  const fixedPorts = options.port !== 0;
  const formatPool = new FormatPool(options.formatThreads ?? (os.availableParallelism() >= 4 ? 1 : 0));
  let controlPort = options.port ?? 5080;

  const publicHost = bind === '0.0.0.0' || bind === '::' ? '127.0.0.1' : bind;
  const urlOf = (port: number): string => `http://${publicHost.includes(':') ? `[${publicHost}]` : publicHost}:${port}`;

  function count(op: string, status: number): void {
    counters.requests[op] = (counters.requests[op] ?? 0) + 1;
    counters.statuses[status] = (counters.statuses[status] ?? 0) + 1;
  }

  function newServer(handler: (req: IncomingMessage, res: ServerResponse) => Promise<void>): Server {
    const server = http.createServer({ maxHeaderSize: MAX_HEADER_BYTES }, (req, res) => {
      handler(req, res).catch((err: unknown) => {
        if (!res.headersSent) sendText(res, 500, `internal emulator error: ${(err as Error).message}`);
        else res.destroy();
      });
    });
    server.keepAliveTimeout = 65_000;
    server.headersTimeout = 70_000;
    return server;
  }

  function listen(server: Server | net.Server, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => {
        server.off('listening', onListening);
        reject(err);
      };
      const onListening = (): void => {
        server.off('error', onError);
        resolve((server.address() as AddressInfo).port);
      };
      server.once('error', onError);
      server.once('listening', onListening);
      server.listen(port, bind);
    });
  }

  async function listenIndex(server: net.Server, preferred: number | undefined): Promise<number> {
    if (!fixedPorts) return listen(server, 0);
    const taken = new Set([controlPort, ...[...indexes.values()].map((e) => e.port)]);
    const candidates: number[] = [];
    if (preferred && !taken.has(preferred)) candidates.push(preferred);
    for (let p = controlPort + 1; candidates.length < 200 && p < 65536; p++) if (!taken.has(p) && p !== preferred) candidates.push(p);
    for (const port of candidates) {
      try {
        return await listen(server, port);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
      }
    }
    throw new Error(`no free port for an index data plane above ${controlPort}`);
  }

  function closeServer(server: Server): Promise<void> {
    return new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  async function openIndex(store: IndexStore): Promise<IndexEntry> {
    const h2 = http2.createServer();
    h2.on('stream', (stream, headers) => {
      serveGrpc(entry, stream, headers).catch((err: unknown) => sendGrpcError(stream, GRPC.INTERNAL, `internal emulator error: ${(err as Error).message}`));
    });
    const server = new DualProtocolServer(
      newServer((req, res) => serveData(entry, req, res)),
      h2,
    );
    const port = await listenIndex(server.front, store.config.port);
    const entry: IndexEntry = { store, server, port, host: urlOf(port) };
    if (store.config.port !== port) store.updateConfig({ port });
    indexes.set(store.name, entry);
    return entry;
  }

  const registry: IndexRegistry = {
    get: (name) => indexes.get(name)?.store,
    list: () => [...indexes.values()].map((e) => e.store),
    hostOf: (store) => indexes.get(store.name)!.host,
    async create(config) {
      const store = IndexStore.create({ ...config, createdAt: new Date().toISOString() }, options.dataDir, fsync);
      try {
        await openIndex(store);
      } catch (err) {
        store.destroy();
        throw err;
      }
      return store;
    },
    async delete(name) {
      const entry = indexes.get(name);
      if (!entry) return;
      indexes.delete(name);
      await entry.server.close();
      entry.store.destroy();
    },
  };

  /** Auth, version, faults: the part of the pipeline both planes share. Returns false when answered. */
  async function admit(
    plane: 'control' | 'data',
    op: string,
    index: string | undefined,
    req: IncomingMessage,
    res: ServerResponse,
    version: ApiVersion,
  ): Promise<boolean> {
    const send = plane === 'control' ? sendControlError : sendDataError;
    if (apiKeyOf(req) !== apiKey) {
      count(op, 401);
      send(res, version, new ApiError(401, 'Invalid API Key'));
      return false;
    }
    const fault = faults.decide(plane, op, index);
    if (fault.delayMs > 0) await new Promise((r) => setTimeout(r, fault.delayMs));
    if (fault.kind === 'drop') {
      count(op, 0);
      req.socket.destroy();
      return false;
    }
    if (fault.kind === 'error') {
      count(op, fault.status);
      send(res, version, new ApiError(fault.status, faultMessage(fault.status)));
      return false;
    }
    return true;
  }

  function versionOf(req: IncomingMessage): ApiVersion | undefined {
    return parseApiVersion(req.headers['x-pinecone-api-version']);
  }

  function logLine(req: IncomingMessage, res: ServerResponse, started: number, where: string): void {
    if (!log) return;
    res.once('finish', () => log(`${where} ${req.method} ${req.url?.slice(0, 200)} ${res.statusCode} ${(performance.now() - started).toFixed(1)}ms`));
  }

  /** The index's rate limit, and the index still being the one the request came to: both planes. */
  function admitToIndex(entry: IndexEntry, op: string, bytes: number): void {
    const limited = limiter.admit(entry.store.name, op, bytes);
    if (limited) {
      counters.rateLimited++;
      throw new ApiError(
        429,
        `Request failed. You've reached the max ${limited.what} limit (${limited.limit}) for index ${entry.store.name}. Retry with exponential backoff.`,
      );
    }
    if (indexes.get(entry.store.name) !== entry) throw new ApiError(404, `Index ${entry.store.name} not found`);
  }

  async function serveData(entry: IndexEntry, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    logLine(req, res, started, entry.store.name);
    const version = versionOf(req);
    if (!version) {
      sendDataError(res, DEFAULT_API_VERSION, new ApiError(400, `Unsupported API version ${JSON.stringify(req.headers['x-pinecone-api-version'])}`));
      return;
    }
    const url = new URL(req.url ?? '/', 'http://index');
    const route = routeData(req.method ?? 'GET', url.pathname);
    if (!route) {
      if (apiKeyOf(req) !== apiKey) return sendDataError(res, version, new ApiError(401, 'Invalid API Key'));
      return sendDataError(res, version, new ApiError(404, 'Not Found'));
    }
    if (!(await admit('data', route.op, entry.store.name, req, res, version))) return;
    try {
      const body = req.method === 'GET' ? Buffer.alloc(0) : await readBody(req);
      admitToIndex(entry, route.op, body.length);
      const out = handleData(entry.store, { route, version, url, body, req, formatPool });
      if ('chunks' in out) {
        // The first chunk is produced before answering, so that a failure can still be a 4xx.
        const it = out.chunks[Symbol.asyncIterator]();
        let step = await it.next();
        count(route.op, 200);
        res.writeHead(200, { 'content-type': 'application/json' });
        while (!step.done) {
          const chunk = step.value;
          const ok = res.write(chunk.bytes, chunk.release ? () => chunk.release!() : undefined);
          if (!ok) await drained(res);
          if (res.destroyed) {
            await it.return?.(undefined);
            return;
          }
          await new Promise((r) => setImmediate(r)); // let other requests in between chunks
          step = await it.next();
        }
        res.end();
      } else {
        count(route.op, 200);
        sendJson(res, 200, out.json);
      }
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      count(route.op, err.status);
      sendDataError(res, version, err, err.status === 429 ? { 'retry-after': '1' } : {});
    }
  }

  /**
   * The gRPC data plane: `VectorService/Fetch` only (what p2m's extractor reads over gRPC). The
   * same key check, injected faults, rate limits and counters as REST's fetch.
   */
  async function serveGrpc(entry: IndexEntry, stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): Promise<void> {
    const started = performance.now();
    const path = headers[':path'] ?? '';
    // Counted apart from REST's fetch ("grpc_fetch"), so a test can tell which plane a client used.
    const fail = (status: number, message: string): void => {
      count('grpc_fetch', status);
      sendGrpcError(stream, grpcCodeOf(status), message);
    };
    if (log) stream.once('close', () => log(`${entry.store.name} gRPC ${path} ${(performance.now() - started).toFixed(1)}ms`));
    if (headers['api-key'] !== apiKey) return fail(401, 'Invalid API Key');
    if (path !== '/VectorService/Fetch') {
      sendGrpcError(stream, GRPC.UNIMPLEMENTED, `the emulator's gRPC plane serves /VectorService/Fetch only, not ${path}`);
      return;
    }
    const fault = faults.decide('data', 'fetch', entry.store.name);
    if (fault.delayMs > 0) await new Promise((r) => setTimeout(r, fault.delayMs));
    if (fault.kind === 'drop') {
      count('grpc_fetch', 0);
      stream.session?.destroy();
      return;
    }
    if (fault.kind === 'error') return fail(fault.status, faultMessage(fault.status));
    try {
      const body = await readStream(stream, MAX_HEADER_BYTES);
      admitToIndex(entry, 'fetch', body.length);
      const request = decodeFetchRequest(unframe(body));
      const message = encodeFetchResponse(entry.store, request.namespace, request.ids);
      count('grpc_fetch', 200);
      sendGrpcMessage(stream, message);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      fail(err.status, err.message);
    }
  }

  async function serveControl(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    logLine(req, res, started, 'control');
    const url = new URL(req.url ?? '/', 'http://control');
    if (url.pathname === '/healthz' && req.method === 'GET') return sendJson(res, 200, { status: 'ok' });
    const version = versionOf(req);
    if (!version) {
      sendControlError(res, DEFAULT_API_VERSION, new ApiError(400, `Unsupported API version ${JSON.stringify(req.headers['x-pinecone-api-version'])}`));
      return;
    }
    if (url.pathname.startsWith('/admin/')) return serveAdmin(url, req, res, version);
    const route = routeControl(req.method ?? 'GET', url.pathname);
    if (!route) {
      if (apiKeyOf(req) !== apiKey) return sendControlError(res, version, new ApiError(401, 'Invalid API Key'));
      return sendControlError(res, version, new ApiError(404, 'Not Found'));
    }
    if (!(await admit('control', route.op, route.indexName, req, res, version))) return;
    try {
      const body = req.method === 'GET' || req.method === 'DELETE' ? Buffer.alloc(0) : await readBody(req);
      const result = await handleControl(registry, route, version, body);
      count(route.op, result.status);
      if (result.json === undefined) {
        res.writeHead(result.status, { 'content-length': 0 });
        res.end();
      } else {
        sendJson(res, result.status, result.json);
      }
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      count(route.op, err.status);
      sendControlError(res, version, err);
    }
  }

  /** Run-time knobs: /admin/faults, /admin/rate-limits, /admin/stats (same Api-Key). */
  async function serveAdmin(url: URL, req: IncomingMessage, res: ServerResponse, version: ApiVersion): Promise<void> {
    try {
      if (apiKeyOf(req) !== apiKey) throw new ApiError(401, 'Invalid API Key');
      const method = req.method ?? 'GET';
      const body = method === 'POST' || method === 'PUT' ? parseJsonBody(await readBody(req)) : undefined;
      switch (`${method} ${url.pathname}`) {
        case 'GET /admin/faults':
          return sendJson(res, 200, faults.current);
        case 'POST /admin/faults':
        case 'PUT /admin/faults':
          faults.set(asConfig<FaultConfig>(body));
          return sendJson(res, 200, faults.current);
        case 'DELETE /admin/faults':
          faults.set({});
          return sendJson(res, 200, faults.current);
        case 'GET /admin/rate-limits':
          return sendJson(res, 200, limiter.config);
        case 'POST /admin/rate-limits':
        case 'PUT /admin/rate-limits':
          limiter.set(body === false ? false : asConfig<RateLimits>(body));
          return sendJson(res, 200, limiter.config);
        case 'DELETE /admin/rate-limits':
          limiter.set(false);
          return sendJson(res, 200, limiter.config);
        case 'GET /admin/stats':
          return sendJson(res, 200, stats());
        default:
          throw new ApiError(404, 'Not Found');
      }
    } catch (err) {
      if (err instanceof TypeError) return sendControlError(res, version, new ApiError(400, err.message));
      if (!(err instanceof ApiError)) throw err;
      sendControlError(res, version, err);
    }
  }

  function stats(): EmulatorStats {
    const out: EmulatorStats = {
      requests: { ...counters.requests },
      statuses: { ...counters.statuses },
      rateLimited: counters.rateLimited,
      faults: { ...faults.counters },
      indexes: {},
    };
    for (const [name, e] of indexes) {
      const namespaces: Record<string, number> = {};
      for (const [key, ns] of e.store.namespaces) namespaces[key] = ns.count;
      out.indexes[name] = { host: e.host, records: e.store.totalCount, namespaces };
    }
    return out;
  }

  // Start: persisted indexes first (they keep their ports), then the control plane.
  const control = newServer(serveControl);
  controlPort = await listen(control, controlPort);
  const opened: IndexEntry[] = [];
  try {
    if (options.dataDir) {
      for (const store of IndexStore.loadAll(options.dataDir, fsync)) opened.push(await openIndex(store));
    }
  } catch (err) {
    await Promise.all([closeServer(control), ...opened.map((e) => e.server.close())]);
    throw err;
  }

  let closed = false;
  return {
    controllerHostUrl: urlOf(controlPort),
    port: controlPort,
    apiKey,
    indexHost: (name) => indexes.get(name)?.host,
    async createIndex(spec) {
      if (indexes.has(spec.name)) throw new Error(`index ${spec.name} already exists`);
      const store = await registry.create(configFromSpec(spec));
      return { name: store.name, host: indexes.get(store.name)!.host };
    },
    deleteIndex: (name) => registry.delete(name),
    load(index, records) {
      const entry = indexes.get(index);
      if (!entry) throw new Error(`index ${index} does not exist`);
      let n = 0;
      let batch: ReturnType<typeof parseVector>[] = [];
      let batchNs: string | undefined;
      // Values are copied into the slabs by upsert, so one arena serves every batch.
      const arena = new ValuesArena(entry.store.config.dimension, 1000);
      const flush = (): void => {
        if (batch.length > 0) entry.store.upsert(batchNs ?? '', batch);
        batch = [];
        arena.reset();
      };
      for (const r of records) {
        const ns = namespaceKey(r.namespace);
        if (ns !== batchNs || batch.length === 1000) {
          flush();
          batchNs = ns;
        }
        batch.push(parseVector(r, entry.store.config, arena));
        n++;
      }
      flush();
      // Sort the new ids now rather than on the first list call.
      for (const ns of entry.store.namespaces.values()) ns.list('', undefined, 1);
      return n;
    },
    setFaults: (config) => faults.set(config),
    setRateLimits: (limits) => limiter.set(limits),
    stats,
    flush() {
      for (const e of indexes.values()) e.store.flush();
    },
    async close() {
      if (closed) return;
      closed = true;
      await Promise.all([closeServer(control), ...[...indexes.values()].map((e) => e.server.close())]);
      for (const e of indexes.values()) e.store.close();
      indexes.clear();
      await formatPool.close();
    },
  };
}

function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

function asConfig<T>(body: unknown): T {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new TypeError('The body must be a JSON object');
  return body as T;
}

function configFromSpec(spec: CreateIndexSpec): Omit<IndexConfig, 'createdAt' | 'port'> {
  const vectorType = spec.vectorType ?? 'dense';
  const metric: Metric = spec.metric ?? (vectorType === 'sparse' ? 'dotproduct' : 'cosine');
  if (vectorType === 'dense' && !(Number.isInteger(spec.dimension) && spec.dimension! >= 1 && spec.dimension! <= 20_000)) {
    throw new Error('a dense index needs an integer dimension between 1 and 20000');
  }
  if (vectorType === 'sparse' && metric !== 'dotproduct') throw new Error('a sparse index uses the dotproduct metric');
  let deployment: Deployment = { type: 'serverless', cloud: spec.cloud ?? 'aws', region: spec.region ?? 'us-east-1' };
  if (spec.pod) {
    const pod = typeof spec.pod === 'object' ? spec.pod : {};
    const replicas = pod.replicas ?? 1;
    const shards = pod.shards ?? 1;
    deployment = { type: 'pod', environment: pod.environment ?? 'us-east1-gcp', podType: pod.podType ?? 'p1.x1', replicas, shards, pods: replicas * shards };
  }
  return {
    name: spec.name,
    dimension: vectorType === 'sparse' ? 0 : spec.dimension!,
    metric,
    vectorType,
    deployment,
    deletionProtection: spec.deletionProtection ?? 'disabled',
    tags: spec.tags ?? {},
  };
}
