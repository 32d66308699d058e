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

export interface StackOptions {
  /** Where pids, logs, data and stack.env live (default `.p2m/` in the cwd). */
  stateDir: string;
  ports: StackPorts;
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

export type StackOptionsInput = Partial<Omit<StackOptions, 'ports'>> & { ports?: Partial<StackPorts> };

export const DEFAULT_PORTS: StackPorts = {
  kafka: 9092,
  kafkaController: 9093,
  registry: 8081,
  milvus: 19530,
  emulator: 5080,
  controller: 8080,
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

export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.P2M_CACHE_DIR || resolve(homedir(), '.cache', 'p2m'));
}

/** Options → env → defaults. Explicit options win over env, env over the contract's defaults. */
export function resolveStackOptions(input: StackOptionsInput = {}, env: NodeJS.ProcessEnv = process.env): StackOptions {
  const ports = { ...DEFAULT_PORTS };
  for (const key of Object.keys(PORT_ENV) as (keyof StackPorts)[]) {
    ports[key] = input.ports?.[key] ?? envInt(env, PORT_ENV[key], 1, 65_535) ?? DEFAULT_PORTS[key];
  }
  const opts: StackOptions = {
    stateDir: resolve(input.stateDir ?? (env.P2M_STATE_DIR || env.P2M_STACK_DIR || '.p2m')),
    ports,
    loaders: input.loaders ?? envInt(env, 'P2M_LOADERS', 0, 64) ?? 2,
    cacheDir: input.cacheDir ?? defaultCacheDir(env),
    log: input.log ?? ((line) => process.stderr.write(`${line}\n`)),
  };
  const apiToken = input.apiToken ?? (env.P2M_API_TOKEN || undefined);
  if (apiToken !== undefined) opts.apiToken = apiToken;
  if (input.components !== undefined) opts.components = input.components;
  return opts;
}
