// Fault injection: 5xx answers, added latency and dropped connections, decided by a seeded PRNG
// in request arrival order so that a failing run can be repeated with the same seed.

import { Prng } from './prng.ts';

export interface FaultConfig {
  /** Probability (0..1) of answering a 5xx instead of serving the request. */
  errorRate?: number;
  /** Statuses to pick from for injected errors (default 500 and 503). */
  errorStatuses?: number[];
  /** Latency added to every affected request, in ms. */
  latencyMs?: number;
  /** Extra random latency, uniform in [0, latencyJitterMs). */
  latencyJitterMs?: number;
  /** Probability (0..1) of closing the connection without an answer. */
  dropRate?: number;
  /** Only these operations (e.g. "fetch", "list", "describe_index"); default all data-plane ones. */
  operations?: string[];
  /** Only requests to these indexes; default all. */
  indexes?: string[];
  /** Also affect control-plane operations (default false). */
  controlPlane?: boolean;
  /** Reseeds the PRNG when the config is set. */
  seed?: number;
}

export type FaultDecision = { kind: 'none'; delayMs: number } | { kind: 'error'; status: number; delayMs: number } | { kind: 'drop'; delayMs: number };

export interface FaultCounters {
  errors: number;
  drops: number;
  delayed: number;
}

export class FaultInjector {
  private config: FaultConfig;
  private prng: Prng;
  readonly counters: FaultCounters = { errors: 0, drops: 0, delayed: 0 };

  constructor(config: FaultConfig | undefined, seed: number) {
    this.config = normalise(config ?? {});
    this.prng = new Prng(config?.seed ?? seed, 0xfa17);
  }

  get current(): FaultConfig {
    return this.config;
  }

  set(config: FaultConfig): void {
    this.config = normalise(config);
    if (config.seed !== undefined) this.prng = new Prng(config.seed, 0xfa17);
  }

  decide(plane: 'control' | 'data', op: string, index: string | undefined): FaultDecision {
    const c = this.config;
    if (plane === 'control' && !c.controlPlane) return { kind: 'none', delayMs: 0 };
    if (c.operations && !c.operations.includes(op)) return { kind: 'none', delayMs: 0 };
    if (c.indexes && (index === undefined || !c.indexes.includes(index))) return { kind: 'none', delayMs: 0 };
    let delayMs = c.latencyMs ?? 0;
    if (c.latencyJitterMs) delayMs += this.prng.next() * c.latencyJitterMs;
    if (delayMs > 0) this.counters.delayed++;
    if (c.dropRate && this.prng.next() < c.dropRate) {
      this.counters.drops++;
      return { kind: 'drop', delayMs };
    }
    if (c.errorRate && this.prng.next() < c.errorRate) {
      this.counters.errors++;
      const statuses = c.errorStatuses && c.errorStatuses.length > 0 ? c.errorStatuses : [500, 503];
      return { kind: 'error', status: this.prng.pick(statuses), delayMs };
    }
    return { kind: 'none', delayMs };
  }
}

function normalise(config: FaultConfig): FaultConfig {
  const rate = (x: number | undefined, name: string): number | undefined => {
    if (x === undefined) return undefined;
    if (typeof x !== 'number' || !(x >= 0 && x <= 1)) throw new TypeError(`${name} must be a number between 0 and 1`);
    return x;
  };
  const ms = (x: number | undefined, name: string): number | undefined => {
    if (x === undefined) return undefined;
    if (typeof x !== 'number' || !(x >= 0)) throw new TypeError(`${name} must be a number of milliseconds >= 0`);
    return x;
  };
  const out: FaultConfig = {};
  const errorRate = rate(config.errorRate, 'errorRate');
  const dropRate = rate(config.dropRate, 'dropRate');
  const latencyMs = ms(config.latencyMs, 'latencyMs');
  const latencyJitterMs = ms(config.latencyJitterMs, 'latencyJitterMs');
  if (errorRate !== undefined) out.errorRate = errorRate;
  if (dropRate !== undefined) out.dropRate = dropRate;
  if (latencyMs !== undefined) out.latencyMs = latencyMs;
  if (latencyJitterMs !== undefined) out.latencyJitterMs = latencyJitterMs;
  if (config.errorStatuses !== undefined) {
    if (!Array.isArray(config.errorStatuses) || !config.errorStatuses.every((s) => Number.isInteger(s) && s >= 500 && s <= 599)) {
      throw new TypeError('errorStatuses must be a list of 5xx status codes');
    }
    out.errorStatuses = config.errorStatuses;
  }
  if (config.operations !== undefined) out.operations = config.operations.map(String);
  if (config.indexes !== undefined) out.indexes = config.indexes.map(String);
  if (config.controlPlane !== undefined) out.controlPlane = Boolean(config.controlPlane);
  if (config.seed !== undefined) out.seed = Number(config.seed);
  return out;
}
