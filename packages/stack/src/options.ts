import { homedir } from 'node:os';
import { resolve } from 'node:path';
import { EtlError } from '@p2m/core';

/** Ports of the local stack; defaults are the public contract (DESIGN.md), all on 127.0.0.1. */
export interface StackPorts {
  kafka: number;
  /** Kafka's KRaft controller listener (internal to the broker). */
  kafkaController: number;
  registry: number;
  milvus: number;
  emulator: number;
  controller: number;
}

/** Which server is the stack's Milvus (at `ports.milvus`): Milvus Lite, or the WAL-backed standalone server. */
export type MilvusServer = 'lite' | 'standalone';
export const MILVUS_SERVERS: readonly MilvusServer[] = ['lite', 'standalone'];

/**
 * Ports of the Milvus standalone server. Every port it opens is here: two instances on one machine
 * (a user's stack and the test stack) must not share one, and Milvus's own defaults are fixed numbers.
 */
export interface MilvusStandalonePorts {
  /** gRPC of the extra `milvus-standalone` component (the stack's own Milvus listens on `ports.milvus`). */
  port: number;
  /** Its embedded etcd's client port; the peer port is the next one. */
  etcdPort: number;
  /** `/healthz` and `/metrics`. */
  metricsPort: number;
  /** First of 7 consecutive ports: the internal gRPC of root, data and query coordinators, data, query and index nodes, and the proxy. */
  internalPort: number;
}

/** How many consecutive ports `internalPort` starts. */
export const STANDALONE_INTERNAL_PORTS = 7;

export interface StackOptions {
  /** Where pids, logs, data and stack.env live (default `.p2m/` in the cwd). */
  stateDir: string;
  ports: StackPorts;
  /** The server behind `ports.milvus` (default `lite`). */
  milvus: MilvusServer;
  /** Ports of the standalone server (as the stack's Milvus, or as the extra `milvus-standalone` component). */
  milvusStandalone: MilvusStandalonePorts;
  /** Number of loader processes (default 2). */
  loaders: number;
  /** Controller bearer token; when absent, the one kept in stack.env or a new one. */
  apiToken?: string;
  /** Limit the stack to these components (e.g. `['kafka', 'registry', 'milvus']`). */
  components?: string[];
  /** Download cache (default `$P2M_CACHE_DIR` or `~/.cache/p2m`). */
  cacheDir: string;
  /** Progress lines (downloads, starts); default stderr. */
  log: (line: string) => void;
}

export type StackOptionsInput = Partial<Omit<StackOptions, 'ports' | 'milvusStandalone'>> & {
  ports?: Partial<StackPorts>;
  milvusStandalone?: Partial<MilvusStandalonePorts>;
};

export const DEFAULT_PORTS: StackPorts = {
  kafka: 9092,
  kafkaController: 9093,
  registry: 8081,
  milvus: 19530,
  emulator: 5080,
  controller: 8080,
};

/** Beside the Lite default port (19530), away from Milvus's own defaults (19529, 19531, 2379, 9091...). */
export const DEFAULT_STANDALONE_PORTS: MilvusStandalonePorts = {
  port: 19540,
  etcdPort: 19579,
  metricsPort: 19591,
  internalPort: 19541,
};

export const STANDALONE_PORT_ENV: Record<keyof MilvusStandalonePorts, string> = {
  port: 'P2M_MILVUS_STANDALONE_PORT',
  etcdPort: 'P2M_MILVUS_STANDALONE_ETCD_PORT',
  metricsPort: 'P2M_MILVUS_STANDALONE_METRICS_PORT',
  internalPort: 'P2M_MILVUS_STANDALONE_INTERNAL_PORT',
};

const PORT_ENV: Record<keyof StackPorts, string> = {
  kafka: 'P2M_KAFKA_PORT',
  kafkaController: 'P2M_KAFKA_CONTROLLER_PORT',
  registry: 'P2M_REGISTRY_PORT',
  milvus: 'P2M_MILVUS_PORT',
  emulator: 'P2M_EMULATOR_PORT',
  controller: 'P2M_CONTROLLER_PORT',
};

function envInt(env: NodeJS.ProcessEnv, name: string, min: number, max: number): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new EtlError('STACK', `${name}=${raw} is not a valid value`, { hint: `set ${name} to an integer between ${min} and ${max}` });
  }
  return n;
}

/** `lite` or `standalone` (undefined when unset); anything else is refused, naming `source`. */
export function milvusServerOf(raw: string | undefined, source: string): MilvusServer | undefined {
  if (raw === undefined || raw === '') return undefined;
  if ((MILVUS_SERVERS as readonly string[]).includes(raw)) return raw as MilvusServer;
  throw new EtlError('STACK', `${source}=${raw} is not a Milvus server the stack can run`, { hint: `use ${MILVUS_SERVERS.join(' or ')}` });
}

/** Every port the standalone server opens, by what it is, when its gRPC listens on `grpcPort`. */
export function standalonePortLayout(
  grpcPort: number,
  p: MilvusStandalonePorts,
): {
  grpc: number;
  etcd: number;
  etcdPeer: number;
  metrics: number;
  rootCoord: number;
  proxyInternal: number;
  queryCoord: number;
  queryNode: number;
  indexNode: number;
  dataCoord: number;
  dataNode: number;
} {
  const i = p.internalPort;
  return {
    grpc: grpcPort,
    etcd: p.etcdPort,
    etcdPeer: p.etcdPort + 1,
    metrics: p.metricsPort,
    rootCoord: i,
    proxyInternal: i + 1,
    queryCoord: i + 2,
    queryNode: i + 3,
    indexNode: i + 4,
    dataCoord: i + 5,
    dataNode: i + 6,
  };
}

/** The env var that moves `port`, for a "port in use" hint. */
export function portEnvName(opts: StackOptions, port: number): string | undefined {
  const stackKey = (Object.keys(opts.ports) as (keyof StackPorts)[]).find((k) => opts.ports[k] === port);
  if (stackKey) return PORT_ENV[stackKey];
  const s = opts.milvusStandalone;
  if (port === s.port) return STANDALONE_PORT_ENV.port;
  if (port === s.etcdPort || port === s.etcdPort + 1) return STANDALONE_PORT_ENV.etcdPort;
  if (port === s.metricsPort) return STANDALONE_PORT_ENV.metricsPort;
  if (port >= s.internalPort && port < s.internalPort + STANDALONE_INTERNAL_PORTS) return STANDALONE_PORT_ENV.internalPort;
  return undefined;
}

export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.P2M_CACHE_DIR || resolve(homedir(), '.cache', 'p2m'));
}

/** Options → env → defaults. Explicit options win over env, env over the contract's defaults. */
export function resolveStackOptions(input: StackOptionsInput = {}, env: NodeJS.ProcessEnv = process.env): StackOptions {
  const ports = { ...DEFAULT_PORTS };
  for (const key of Object.keys(PORT_ENV) as (keyof StackPorts)[]) {
    ports[key] = input.ports?.[key] ?? envInt(env, PORT_ENV[key], 1, 65_535) ?? DEFAULT_PORTS[key];
  }
  // The etcd peer port and the internal block extend past the configured port.
  const standaloneMax: Record<keyof MilvusStandalonePorts, number> = {
    port: 65_535,
    etcdPort: 65_534,
    metricsPort: 65_535,
    internalPort: 65_536 - STANDALONE_INTERNAL_PORTS,
  };
  const milvusStandalone = { ...DEFAULT_STANDALONE_PORTS };
  for (const key of Object.keys(STANDALONE_PORT_ENV) as (keyof MilvusStandalonePorts)[]) {
    milvusStandalone[key] = input.milvusStandalone?.[key] ?? envInt(env, STANDALONE_PORT_ENV[key], 1, standaloneMax[key]) ?? DEFAULT_STANDALONE_PORTS[key];
  }
  const opts: StackOptions = {
    stateDir: resolve(input.stateDir ?? (env.P2M_STATE_DIR || env.P2M_STACK_DIR || '.p2m')),
    ports,
    milvus: input.milvus ?? milvusServerOf(env.P2M_MILVUS_SERVER, 'P2M_MILVUS_SERVER') ?? 'lite',
    milvusStandalone,
    loaders: input.loaders ?? envInt(env, 'P2M_LOADERS', 0, 64) ?? 2,
    cacheDir: input.cacheDir ?? defaultCacheDir(env),
    log: input.log ?? ((line) => process.stderr.write(`${line}\n`)),
  };
  const apiToken = input.apiToken ?? (env.P2M_API_TOKEN || undefined);
  if (apiToken !== undefined) opts.apiToken = apiToken;
  if (input.components !== undefined) opts.components = input.components;
  return opts;
}
